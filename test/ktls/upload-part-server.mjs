// A Node https server that answers PUTs like S3's UploadPart: it hashes each body and returns
// ETag = "<md5 hex>" plus a JSON body {bytes, md5}. Runs inside the kTLS VM (test/ktls-vm.sh).
// Usage: node upload-part-server.mjs <cert.pem> <key.pem> <TLS 1.3 ciphersuite | TLSv1.2>
// (TLSv1.2: a server that speaks TLS 1.2 only, which kTLS clients must fall back from.)
// Prints {"port":N} once listening, then one JSON line per client-side TLS/HTTP error, so the test
// can see e.g. a bad_record_mac caused by a wrong kernel key.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';

const [certPath, keyPath, ciphersuite] = process.argv.slice(2);
if (!certPath || !keyPath || !ciphersuite) {
  console.error('usage: upload-part-server.mjs <cert.pem> <key.pem> <ciphersuite>');
  process.exit(2);
}

const server = https.createServer(
  {
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
    ...(ciphersuite === 'TLSv1.2'
      ? { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }
      : // Node takes TLS 1.3 suites in `ciphers` (names starting with TLS_); it has no `ciphersuites` option.
        { minVersion: 'TLSv1.3', ciphers: ciphersuite }),
    ALPNProtocols: ['http/1.1'],
  },
  (req, res) => {
    if (req.method !== 'PUT') {
      res.writeHead(405).end();
      return;
    }
    const md5 = createHash('md5');
    let bytes = 0;
    req.on('data', (chunk) => {
      md5.update(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => {
      const hex = md5.digest('hex');
      const body = JSON.stringify({ bytes, md5: hex, cipher: req.socket.getCipher().standardName, protocol: req.socket.getProtocol() });
      res.writeHead(200, { etag: `"${hex}"`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  },
);
server.keepAliveTimeout = 30_000;
server.on('clientError', (err, socket) => {
  console.log(JSON.stringify({ event: 'clientError', code: err.code ?? null, message: err.message }));
  socket.destroy();
});
server.on('tlsClientError', (err) => {
  console.log(JSON.stringify({ event: 'tlsClientError', code: err.code ?? null, message: err.message }));
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
process.on('SIGTERM', () => process.exit(0));

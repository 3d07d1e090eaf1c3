/**
 * API docs under /swagger/ as deliverator serves them: a Swagger UI page, `doc.json` and `doc.yaml`.
 * The document is deliverator's published swagger (swagger.json here, unchanged) plus what s3nd adds:
 * `transport` in `task`, `POST /uploads`, `/healthz`, `/metrics`, the 401/502 responses and the
 * JSON and multipart bodies `/upload` also accepts.
 */
import deliverator from './swagger.json' with { type: 'json' };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function build(): { [key: string]: Json } {
  const doc = structuredClone(deliverator) as unknown as { [key: string]: { [key: string]: Json } };
  const info = doc.info!;
  info.title = 's3nd worker API (deliverator v2 compatible)';
  const definitions = doc.definitions!;
  const task = definitions.task as { properties: { [key: string]: Json } };
  task.properties.transport = { type: 'string', enum: ['ktls', 'sendfile', 'fetch'], description: 'how the parts were sent' };
  const paths = doc.paths!;
  const upload = (paths['/upload'] as { post: { [key: string]: Json } }).post;
  upload.consumes = ['application/x-www-form-urlencoded', 'multipart/form-data', 'application/json'];
  const errorResponse = (description: string, ref: string): Json => ({
    description,
    headers: { 'X-Error': { description: 'error message', type: 'string' } },
    schema: { $ref: `#/definitions/${ref}` },
  });
  const responses = upload.responses as { [key: string]: Json };
  responses['401'] = errorResponse('Unauthorized (S3ND_TOKEN is set and the bearer token is missing or wrong)', 'requestStatus500');
  responses['502'] = errorResponse('Bad Gateway (S3 refused or failed the upload)', 'requestStatus500');
  paths['/uploads'] = {
    post: {
      summary: 'upload a burst of files; one NDJSON line (a requestStatus body) per file as each finishes',
      tags: ['uploads'],
      consumes: ['application/json'],
      produces: ['application/x-ndjson'],
      parameters: [
        {
          in: 'body',
          name: 'body',
          required: true,
          schema: {
            type: 'object',
            properties: {
              files: {
                type: 'array',
                items: { type: 'object', properties: { file: { type: 'string' }, uri: { type: 'string' }, slug: { type: 'string' } } },
              },
            },
          },
        },
      ],
      responses: { '200': { description: 'NDJSON stream', schema: { $ref: '#/definitions/requestStatus200' } }, '400': errorResponse('Bad Request', 'requestStatus400') },
    },
  };
  paths['/healthz'] = { get: { summary: 'liveness (no token needed)', tags: ['version'], produces: ['application/json'], responses: { '200': { description: 'OK' } } } };
  paths['/metrics'] = { get: { summary: 'Prometheus metrics', tags: ['version'], produces: ['text/plain'], responses: { '200': { description: 'OK' } } } };
  return doc;
}

export const apiDoc = build();
export const apiDocJson = JSON.stringify(apiDoc, null, 2);
export const apiDocYaml = toYaml(apiDoc);

/** A small YAML emitter for JSON data (block style; strings JSON-quoted, which is valid YAML). */
export function toYaml(value: Json, indent = ''): string {
  if (value === null || typeof value !== 'object') return `${JSON.stringify(value)}\n`;
  const entries: [string, Json][] = Array.isArray(value) ? value.map((v) => ['-', v]) : Object.entries(value).map(([k, v]) => [`${JSON.stringify(k)}:`, v]);
  if (entries.length === 0) return Array.isArray(value) ? '[]\n' : '{}\n';
  return entries
    .map(([lead, v]) => {
      const nested = v !== null && typeof v === 'object' && Object.keys(v).length > 0;
      return nested ? `${indent}${lead}\n${toYaml(v, `${indent}  `)}` : `${indent}${lead} ${toYaml(v, `${indent}  `)}`;
    })
    .join('');
}

/** The UI page; its assets come from the swagger-ui-dist CDN (deliverator embeds them; no copy is vendored here). */
export const swaggerPage = `<!doctype html><html><head><meta charset="utf-8"><title>s3nd API</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css"></head><body><div id="swagger-ui"></div>
<script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: './doc.json', dom_id: '#swagger-ui' });</script></body></html>`;

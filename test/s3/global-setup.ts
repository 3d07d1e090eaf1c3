/**
 * Vitest global setup for the `s3` project: a real Ceph RGW on 127.0.0.1 (test/s3/server.sh).
 * It is left running when it was already up (scripts/test.sh starts it once for every stage).
 */
import { s3ServerRunning, startS3Server, stopS3Server } from './env.ts';

export default function setup(): () => void {
  const wasRunning = s3ServerRunning();
  Object.assign(process.env, startS3Server());
  return () => {
    if (!wasRunning) stopS3Server();
  };
}

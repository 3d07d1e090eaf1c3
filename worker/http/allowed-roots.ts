/**
 * S3ND_ALLOWED_ROOTS: the daemon reads a file only when its realpath lies under one of the roots
 * (themselves resolved with realpath at start, so a symlinked root works and a symlink inside a
 * root that points out of it does not). Unset = unrestricted, s3nd's behaviour.
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, sep } from 'node:path';
import { ConfigError } from '../config.ts';

export class PathRefused extends Error {
  override readonly name = 'PathRefused';
}

export class AllowedRoots {
  /** Resolved roots; undefined when the setting is unset. */
  readonly roots: string[] | undefined;

  constructor(configured: string[] | undefined) {
    this.roots = configured?.map((root) => {
      try {
        return realpathSync(root);
      } catch (error) {
        throw new ConfigError(`S3ND_ALLOWED_ROOTS entry ${root} cannot be resolved: ${(error as Error).message}`);
      }
    });
  }

  get restricted(): boolean {
    return this.roots !== undefined;
  }

  /**
   * The resolved path of a regular file the daemon may read; throws PathRefused with the reason
   * otherwise. Non-regular files (FIFOs, devices, directories) are refused here because opening a
   * FIFO with no writer would block the event loop.
   */
  resolve(file: string): string {
    if (!isAbsolute(file)) throw new PathRefused(`file must be an absolute path, got ${JSON.stringify(file)}`);
    let real: string;
    try {
      real = realpathSync(file);
    } catch (error) {
      throw new PathRefused(`cannot stat ${file}: ${(error as Error).message}`);
    }
    if (this.roots && !this.roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) {
      throw new PathRefused(`${file} is outside S3ND_ALLOWED_ROOTS (${this.roots.join(':')})`);
    }
    let isFile: boolean;
    try {
      isFile = statSync(real).isFile();
    } catch (error) {
      throw new PathRefused(`cannot stat ${file}: ${(error as Error).message}`);
    }
    if (!isFile) throw new PathRefused(`${file} is not a regular file`);
    return real;
  }
}

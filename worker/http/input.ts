/** Request bodies of POST /upload (form-urlencoded as s3nd documents it, multipart form, JSON) and POST /uploads. */

export interface UploadInput {
  file?: string | undefined;
  uri?: string | undefined;
  slug?: string | undefined;
}

/** A request the daemon cannot act on: 400, and the message goes to `msg` and `X-Error`. */
export class BadRequest extends Error {
  override readonly name = 'BadRequest';
}

const field = (v: unknown) => (typeof v === 'string' ? v : undefined);

function fromObject(value: unknown, where: string): UploadInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequest(`error parsing request: ${where} must be an object {"file", "uri", "slug"?}`);
  }
  const body = value as Record<string, unknown>;
  return { file: field(body.file), uri: field(body.uri), slug: field(body.slug) };
}

export async function readUploadInput(request: Request): Promise<UploadInput> {
  const type = request.headers.get('content-type') ?? '';
  try {
    if (type.includes('application/json')) return fromObject(await request.json(), 'the JSON body');
    if (type.includes('multipart/form-data') || type.includes('application/x-www-form-urlencoded')) {
      const form = await request.formData();
      return { file: field(form.get('file')), uri: field(form.get('uri')), slug: field(form.get('slug')) };
    }
  } catch (error) {
    if (error instanceof BadRequest) throw error;
    throw new BadRequest(`error parsing request: ${(error as Error).message}`);
  }
  throw new BadRequest(
    `error parsing request: unsupported content type ${JSON.stringify(type)}: expected application/x-www-form-urlencoded, multipart/form-data or application/json`,
  );
}

/** Most files one batch request may name. */
export const maxBatchFiles = 10_000;

export async function readBatchInput(request: Request): Promise<UploadInput[]> {
  let body: unknown;
  try {
    body = await request.json();
  } catch (error) {
    throw new BadRequest(`error parsing request: ${(error as Error).message}`);
  }
  const files = (body as { files?: unknown } | null)?.files;
  if (!Array.isArray(files) || files.length === 0) throw new BadRequest('error parsing request: expected {"files": [{"file", "uri", "slug"?}, …]}');
  if (files.length > maxBatchFiles) throw new BadRequest(`error parsing request: ${files.length} files in one batch, at most ${maxBatchFiles}`);
  return files.map((f, i) => fromObject(f, `files[${i}]`));
}

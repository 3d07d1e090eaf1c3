/** Validates a response body against a definition of deliverator's published swagger (test/fixtures). */
import swagger from '../fixtures/deliverator-swagger.json' with { type: 'json' };

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  $ref?: string;
  additionalProperties?: Schema;
}

const definitions = (swagger as unknown as { definitions: Record<string, Schema> }).definitions;

function resolve(schema: Schema): Schema {
  return schema.$ref ? definitions[schema.$ref.replace('#/definitions/', '')]! : schema;
}

/** Problems found (empty when the body conforms): every declared property present must have the declared type. */
export function validate(definition: string, body: unknown): string[] {
  const schema = definitions[definition];
  if (!schema) return [`no definition ${definition}`];
  const problems: string[] = [];
  check(schema, body, definition, problems);
  // The swagger marks nothing required, but s3nd's README promises `code` and `msg` on every status
  // message (and deliverator v2 adds `version`); a success must carry the whole task.
  if (definition.startsWith('requestStatus')) {
    for (const k of ['code', 'msg', 'version', 'task']) if (!(k in (body as object))) problems.push(`${definition}: missing ${k}`);
  }
  if (definition === 'requestStatus200') {
    const task = (body as { task?: object }).task ?? {};
    for (const k of Object.keys(definitions.task?.properties ?? {})) if (k !== 'slug' && !(k in task)) problems.push(`${definition}.task: missing ${k}`);
  }
  return problems;
}

function check(raw: Schema, value: unknown, path: string, problems: string[]): void {
  const schema = resolve(raw);
  switch (schema.type) {
    case 'integer':
      if (!Number.isInteger(value)) problems.push(`${path}: expected integer, got ${JSON.stringify(value)}`);
      return;
    case 'number':
      if (typeof value !== 'number') problems.push(`${path}: expected number, got ${JSON.stringify(value)}`);
      return;
    case 'string':
      if (typeof value !== 'string') problems.push(`${path}: expected string, got ${JSON.stringify(value)}`);
      return;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problems.push(`${path}: expected object, got ${JSON.stringify(value)}`);
        return;
      }
      for (const [k, v] of Object.entries(value)) {
        const property = schema.properties?.[k] ?? schema.additionalProperties;
        if (property) check(property, v, `${path}.${k}`, problems);
      }
    }
  }
}

export const definitionFor: Record<number, string> = {
  200: 'requestStatus200',
  400: 'requestStatus400',
  404: 'requestStatus404',
  408: 'requestStatus408',
  500: 'requestStatus500',
  502: 'requestStatus500',
  504: 'requestStatus504',
};

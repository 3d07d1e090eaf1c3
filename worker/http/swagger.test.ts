import { expect, test } from 'bun:test';
import deliverator from './swagger.json' with { type: 'json' };
import { apiDoc, apiDocYaml, toYaml } from './swagger.ts';

test('toYaml round-trips JSON data through a YAML parser, awkward strings included', () => {
  const value = { a: [1, { b: 'x: y', c: [] }, 'multi\nline', null, true], 'key with: colon': {}, '#': '- dash', n: -1.5e-7 };
  expect(Bun.YAML.parse(toYaml(value))).toEqual(value);
});

test('the served document is deliverator’s plus our additions, and its YAML equals its JSON', () => {
  expect(Bun.YAML.parse(apiDocYaml)).toEqual(apiDoc);
  const doc = apiDoc as unknown as typeof deliverator & { definitions: { task: { properties: Record<string, unknown> } } };
  expect(doc.definitions.requestStatus200).toEqual(deliverator.definitions.requestStatus200);
  expect(Object.keys(doc.definitions.task.properties)).toEqual([...Object.keys(deliverator.definitions.task.properties), 'transport']);
  // The import is not mutated by building the document.
  expect(Object.keys(deliverator.paths)).toEqual(['/upload', '/version']);
});

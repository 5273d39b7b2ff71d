import { describe, expect, it } from 'vitest';
import { duplicateFields } from '../src/api/duplicate-fields.js';

describe('duplicateFields', () => {
  it('names each repeated key by its path, in document order, inside objects and lists', () => {
    const text =
      '{"metadata":{"name":"a","name":"b"},"spec":{"template":{"spec":{"containers":[{"name":"x"},' +
      '{"image":"i", "image" : "j","args":["a,\\"b}","c"]}]}},"paused":true,"paused":false}}';
    expect(duplicateFields(text)).toEqual([
      'metadata.name',
      'spec.template.spec.containers[1].image',
      'spec.paused',
    ]);
  });

  it('finds nothing in a document without repeats, one with escaped quotes in keys, or text that is not JSON', () => {
    expect(duplicateFields('{"a":{"b":1},"b":{"a":[1,2,{"a":null}]},"c\\"d":1,"c":2}')).toEqual([]);
    expect(duplicateFields('{"a":1,"a"')).toEqual([]);
    expect(duplicateFields('[]')).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { build, matrix } from './harness.js';

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The original (line, column) of every mapping segment of a source map (v3 "mappings", VLQ-decoded). */
function originalPositions(mappings: string): Set<string> {
  const positions = new Set<string>();
  let source = 0;
  let line = 0;
  let column = 0;
  for (const generatedLine of mappings.split(';')) {
    for (const segment of generatedLine.split(',')) {
      if (!segment) continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const char of segment) {
        const digit = BASE64.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      if (fields.length < 4) continue;
      source += fields[1];
      line += fields[2];
      column += fields[3];
      if (source === 0) positions.add(`${line + 1}:${column + 1}`);
    }
  }
  return positions;
}

describe('source maps', () => {
  it('still point every original statement to its place', () => {
    for (const config of [matrix[0], matrix[matrix.length - 1]]) {
      const plain = build(config, false, ['shapes.ts']);
      const traced = build(config, true, ['shapes.ts']);
      const plainMap = JSON.parse(plain.files.get('shapes.js.map')!) as { mappings: string };
      const tracedMap = JSON.parse(traced.files.get('shapes.js.map')!) as { mappings: string };
      const before = originalPositions(plainMap.mappings);
      const after = originalPositions(tracedMap.mappings);
      expect(before.size).toBeGreaterThan(100);
      const lost = [...before].filter((p) => !after.has(p));
      expect(lost).toEqual([]);
    }
  });
});

/**
 * instrumentSource with its results kept between builds and runs (transformer/source/result-store.ts):
 * TypeScript is loaded only when a module's result is not kept. A result with misuse is never kept,
 * so every build reports it.
 */
import type * as TS from 'typescript';
import { mayHaveMarks } from './instrument-file.js';
import { instrumentSource, type InstrumentDiagnostic, type InstrumentSourceOptions } from './instrument-source.js';
import { peerVersion } from './load-typescript.js';
import { openResultStore, type ResultStore } from './result-store.js';

/** A source map (v3) as JSON: magic-string's, or the same read back from the store. */
export interface SourceMapJson {
  readonly version: number;
  readonly file?: string;
  // Mutable arrays, as the bundlers' types of a source map have them.
  readonly sources: string[];
  readonly sourcesContent?: (string | null)[];
  readonly names: string[];
  readonly mappings: string;
}

/** An instrumented module: its text, its source map to the input, and misuse found. */
export interface InstrumentedModule {
  readonly code: string;
  readonly map: SourceMapJson;
  readonly diagnostics: readonly InstrumentDiagnostic[];
}

/** What the store keeps for a module: its result, or that it has nothing to instrument. */
type Kept = { readonly code: string; readonly map: SourceMapJson } | { readonly none: true };

function isKept(value: unknown): value is Kept {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { none?: unknown; code?: unknown; map?: { mappings?: unknown; sources?: unknown } };
  return v.none === true || (typeof v.code === 'string' && typeof v.map?.mappings === 'string' && Array.isArray(v.map.sources));
}

/** The data URL of a source map, for a `//# sourceMappingURL=` comment (as magic-string's `toUrl`). */
export const sourceMapUrl = (map: SourceMapJson): string => `data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}`;

/**
 * The result store in `dir` for results made with the TypeScript a project at `from` resolves (and
 * magic-string): null when `dir` is null or TypeScript is not installed there.
 */
export function openInstrumenterStore(dir: string | null, from: string): ResultStore | null {
  const typescriptVersion = peerVersion('typescript', from);
  return typescriptVersion === null ? null : openResultStore(dir, [`typescript@${typescriptVersion}`, `magic-string@${peerVersion('magic-string')}`]);
}

/**
 * `(code, options)` → instrumentSource's result (null when there is nothing to instrument), from
 * `store` when it has it; else TypeScript is asked of `typescript()` and the result kept.
 */
export function createCachedInstrumenter(typescript: () => typeof TS, store: () => ResultStore | null): (code: string, options: InstrumentSourceOptions) => InstrumentedModule | null {
  return (code, options) => {
    if (!mayHaveMarks(code)) return null;
    const kept = store();
    // Every option is part of the key, in a fixed order.
    const key = kept?.keyOf('module', code, JSON.stringify(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : 1))));
    const found = key === undefined ? undefined : kept!.get(key);
    // The map's content is the input text itself: not kept twice.
    if (isKept(found)) return 'none' in found ? null : { code: found.code, map: { ...found.map, sourcesContent: [code] }, diagnostics: [] };
    const result = instrumentSource(typescript(), code, options);
    if (key !== undefined && (result === null || result.diagnostics.length === 0)) {
      kept!.set(key, result === null ? { none: true } : { code: result.code, map: { ...result.map, sourcesContent: undefined } });
    }
    return result;
  };
}

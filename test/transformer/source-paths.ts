/**
 * The source instrumenter's side of the transformer harness: instrumented copies of fixture sources
 * (to be compiled plain, by tsc, or run by Node), and the region tree of a trace, to compare paths.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type * as TS from 'typescript';
import type { TraceAnalysis } from '../../analysis/analysis-types.js';
import { instrumentSource, type InstrumentSourceOptions } from '../../transformer/source/instrument-source.js';
import { repoRoot } from './harness.js';

export const ts = createRequire(import.meta.url)('typescript') as typeof TS;

/**
 * Writes `files` of `root`, each instrumented by instrumentSource (or copied when it has nothing to
 * instrument), to `outRoot` (which must be inside the repository, so that `tstrace` resolves). Site
 * locations are relative to the repository, as the tspc harness compiles them, so both paths record
 * the same locations. Throws on a diagnostic.
 */
export function instrumentTree(root: string, files: readonly string[], outRoot: string, options: Partial<InstrumentSourceOptions> = {}): void {
  rmSync(outRoot, { recursive: true, force: true });
  for (const file of files) {
    const source = readFileSync(join(root, file), 'utf8');
    const result = instrumentSource(ts, source, { fileName: join(root, file), rootDir: repoRoot, ...options });
    if (result && result.diagnostics.length > 0) throw new Error(result.diagnostics.map((d) => `${d.fileName}:${d.line}:${d.column} TS${d.code} ${d.message}`).join('\n'));
    mkdirSync(dirname(join(outRoot, file)), { recursive: true });
    writeFileSync(join(outRoot, file), result ? result.code : source);
  }
}

/**
 * The regions of a trace as a tree, independent of ids, flows and timing: for each region its path of
 * types from the top (`root > outer > leaf`) and where it was started, with how many regions share
 * both; sorted. Two runs of the same program record the same tree.
 */
export function regionTree(analysis: TraceAnalysis): string[] {
  const byId = new Map(analysis.regions.map((r) => [r.id, r]));
  const pathOf = (id: number | null): string => {
    const names: string[] = [];
    for (let r = id === null ? undefined : byId.get(id); r; r = r.parent === null ? undefined : byId.get(r.parent)) names.unshift(r.type);
    return names.join(' > ');
  };
  const counts = new Map<string, number>();
  for (const r of analysis.regions) {
    const where = r.location ? `${r.location.file}:${r.location.line}:${r.location.column}` : '?';
    const key = `${pathOf(r.id)} @${where}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${key} ×${n}`).sort();
}

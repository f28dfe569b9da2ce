/**
 * The source instrumenter's side of the transformer harness: instrumented copies of fixture sources
 * (to be compiled plain, by tsc, or run by Node), and the region tree of a trace, to compare paths.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
 * types from the top (`root > outer > leaf`) and (unless `locations` is false) where it was started,
 * with how many regions share both; sorted. Two runs of the same program record the same tree.
 */
export function regionTree(analysis: TraceAnalysis, { locations = true }: { locations?: boolean } = {}): string[] {
  const byId = new Map(analysis.regions.map((r) => [r.id, r]));
  const pathOf = (id: number | null): string => {
    const names: string[] = [];
    for (let r = id === null ? undefined : byId.get(id); r; r = r.parent === null ? undefined : byId.get(r.parent)) names.unshift(r.type);
    return names.join(' > ');
  };
  const counts = new Map<string, number>();
  for (const r of analysis.regions) {
    const where = !locations ? '' : r.location ? ` @${r.location.file}:${r.location.line}:${r.location.column}` : ' @?';
    const key = `${pathOf(r.id)}${where}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${key} ×${n}`).sort();
}

/** The scenario runner of the harness (run-fixtures.mjs). */
export const fixtureRunner = fileURLToPath(new URL('./run-fixtures.mjs', import.meta.url));

/**
 * Runs the scenarios of `modules` (in `dir`) traced, in `node` with `flags` (`--import tstrace/register`),
 * from `cwd`; their observations and the trace's path (written to `traceDir`).
 */
export function runScenariosWith(node: string, flags: readonly string[], dir: string, modules: readonly string[], traceDir: string, cwd = dir): { observations: Record<string, unknown>; tracePath: string } {
  mkdirSync(traceDir, { recursive: true });
  const tracePath = join(traceDir, `trace-${modules.join('-').replace(/[^\w.-]/g, '_')}-${flags.length}.out`);
  const stdout = execFileSync(node, [...flags, fixtureRunner, dir, 'on', tracePath, ...modules], { encoding: 'utf8', cwd });
  return { observations: JSON.parse(stdout) as Record<string, unknown>, tracePath };
}

/** Node 24 (for its type stripping and module.registerHooks), from scripts/node24.mjs; null (and why) when it cannot be had. */
export async function node24(): Promise<{ path: string | null; why: string }> {
  try {
    const helper = (await import(pathToFileURL(join(repoRoot, 'scripts', 'node24.mjs')).href)) as { node24(): string };
    return { path: helper.node24(), why: '' };
  } catch (error) {
    return { path: null, why: `no Node 24 binary (scripts/node24.mjs: ${(error as Error).message})` };
  }
}

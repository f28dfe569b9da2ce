/**
 * What the bundler plugin reads from the user's tsconfig.json: the folder it is in (compiled-in file
 * names are relative to it, as with tspc) and whether `experimentalDecorators` is on. Looked up once
 * per folder: the nearest `tsconfig.json` above a file, with its `extends` chain followed by
 * TypeScript's own config parser (file lists are not expanded). With a result store, what was read is
 * kept with the hashes of the files it came from, and used again while they are unchanged.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as TS from 'typescript';
import { sha256, type ResultStore } from '../source/result-store.js';

export interface ProjectSettings {
  /** The folder of the nearest tsconfig.json, or null when there is none above the file. */
  readonly configDir: string | null;
  /** `compilerOptions.experimentalDecorators` (through `extends`). */
  readonly experimentalDecorators: boolean;
}

/** The hash of a file's text, or null when it cannot be read. */
function hashOfFile(file: string): string | null {
  try {
    return sha256(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

const NONE: ProjectSettings = { configDir: null, experimentalDecorators: false };

/** A cache of {@link ProjectSettings} by folder, for one plugin instance (a watch rebuild makes a new one). */
export function createProjectSettingsLookup(ts: () => typeof TS, store: () => ResultStore | null = () => null): (file: string) => ProjectSettings {
  const byDir = new Map<string, ProjectSettings>();
  const byConfig = new Map<string, ProjectSettings>();

  /** TypeScript's reading of the config at `path`, with the files it read (the `extends` chain) and their texts. */
  const parseConfig = (path: string): { settings: ProjectSettings; read: Map<string, string | undefined> } => {
    const api = ts();
    const read = new Map<string, string | undefined>();
    const readFile = (file: string): string | undefined => {
      const text = api.sys.readFile(file);
      read.set(file, text);
      return text;
    };
    const { config, error } = api.readConfigFile(path, readFile);
    if (error) return { settings: { configDir: dirname(path), experimentalDecorators: false }, read };
    // No file discovery: only the options (and `extends`) are wanted.
    const host: TS.ParseConfigHost = { ...api.sys, readFile, readDirectory: () => [] };
    const parsed = api.parseJsonConfigFileContent(config, host, dirname(path), undefined, path);
    return { settings: { configDir: dirname(path), experimentalDecorators: parsed.options.experimentalDecorators === true }, read };
  };

  /** The settings kept from an earlier build, when none of the files they were read from changed (no TypeScript needed). */
  const keptSettings = (path: string): { key: string; settings?: ProjectSettings } | undefined => {
    const kept = store();
    if (kept === null) return undefined;
    const key = kept.keyOf('tsconfig', path);
    const found = kept.get(key) as { inputs?: unknown; settings?: ProjectSettings } | undefined;
    const inputs = Array.isArray(found?.inputs) ? (found.inputs as [string, string | null][]) : null;
    const unchanged = inputs !== null && typeof found?.settings?.experimentalDecorators === 'boolean' && inputs.every(([file, hash]) => hashOfFile(file) === hash);
    return { key, settings: unchanged ? { configDir: dirname(path), experimentalDecorators: found!.settings!.experimentalDecorators } : undefined };
  };

  const readConfig = (path: string): ProjectSettings => {
    const cached = byConfig.get(path);
    if (cached) return cached;
    const kept = keptSettings(path);
    let settings = kept?.settings;
    if (settings === undefined) {
      const parsed = parseConfig(path);
      settings = parsed.settings;
      if (kept) store()!.set(kept.key, { inputs: [...parsed.read].map(([file, text]) => [file, text === undefined ? null : sha256(text)]), settings });
    }
    byConfig.set(path, settings);
    return settings;
  };

  const lookup = (dir: string): ProjectSettings => {
    const cached = byDir.get(dir);
    if (cached) return cached;
    const config = join(dir, 'tsconfig.json');
    const parent = dirname(dir);
    const settings = existsSync(config) ? readConfig(config) : parent === dir || /[\\/]node_modules$/.test(dir) ? NONE : lookup(parent);
    byDir.set(dir, settings);
    return settings;
  };

  return (file) => lookup(dirname(file));
}

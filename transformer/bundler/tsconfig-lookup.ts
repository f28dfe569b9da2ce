/**
 * What the bundler plugin reads from the user's tsconfig.json: the folder it is in (compiled-in file
 * names are relative to it, as with tspc) and whether `experimentalDecorators` is on. Looked up once
 * per folder: the nearest `tsconfig.json` above a file, with its `extends` chain followed by
 * TypeScript's own config parser (file lists are not expanded).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as TS from 'typescript';

export interface ProjectSettings {
  /** The folder of the nearest tsconfig.json, or null when there is none above the file. */
  readonly configDir: string | null;
  /** `compilerOptions.experimentalDecorators` (through `extends`). */
  readonly experimentalDecorators: boolean;
}

const NONE: ProjectSettings = { configDir: null, experimentalDecorators: false };

/** A cache of {@link ProjectSettings} by folder, for one plugin instance (a watch rebuild makes a new one). */
export function createProjectSettingsLookup(ts: () => typeof TS): (file: string) => ProjectSettings {
  const byDir = new Map<string, ProjectSettings>();
  const byConfig = new Map<string, ProjectSettings>();

  const readConfig = (path: string): ProjectSettings => {
    const cached = byConfig.get(path);
    if (cached) return cached;
    const api = ts();
    const { config, error } = api.readConfigFile(path, api.sys.readFile);
    let settings: ProjectSettings = { configDir: dirname(path), experimentalDecorators: false };
    if (!error) {
      // No file discovery: only the options (and `extends`) are wanted.
      const host: TS.ParseConfigHost = { ...api.sys, readDirectory: () => [] };
      const parsed = api.parseJsonConfigFileContent(config, host, dirname(path), undefined, path);
      settings = { configDir: dirname(path), experimentalDecorators: parsed.options.experimentalDecorators === true };
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

// What the bench scripts share: the machine they ran on, the Node versions they compare, and the
// columns of their tables.
import { execFileSync } from 'node:child_process';
import { arch, cpus, loadavg, platform, release } from 'node:os';
import { node24 } from '../scripts/node24.mjs';

export const pad = (s, w) => String(s).padEnd(w);
export const lpad = (s, w) => String(s).padStart(w);

/** Prints `title`, then the platform, CPU and load average: a loaded machine gives noisier, slower figures. */
export function printMachine(title) {
  const cpuList = cpus();
  console.log(title);
  console.log(`${platform()} ${arch()} ${release()}; CPU: ${cpuList[0]?.model ?? 'unknown'} × ${cpuList.length}`);
  const load = loadavg()[0];
  console.log(`load average (1 min) before the run: ${load.toFixed(2)}${load > 0.5 ? '  — other processes are using the CPU; figures will be noisier and higher' : ''}`);
}

/**
 * The Node binaries to measure on, Node 24 first (performance is judged there), then the one running
 * this script: `{ binary, version, major }`. Says so when Node 24 is not available, and goes on without it.
 */
export function benchNodes() {
  const here = { binary: process.execPath, version: process.version, major: process.versions.node.split('.')[0] };
  try {
    const binary = node24();
    const version = execFileSync(binary, ['--version']).toString().trim();
    return [{ binary, version, major: version.slice(1).split('.')[0] }, here];
  } catch (error) {
    console.log(`Node 24 not available (${error.message}): Node ${process.versions.node} only\n`);
    return [here];
  }
}

// `npm start`: compiles the cappuccino sample with tspc (and tstrace's transformer), runs it (it writes trace.out in the current
// directory), then prints the trace's statistics with the tstrace CLI. Expects `npm run build` first.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSample, node, printStats } from '../build.mjs';

const sampleDir = dirname(fileURLToPath(import.meta.url));
const trace = 'trace.out';

compileSample(sampleDir);
// Source maps let captured locations point at main.ts rather than the compiled JavaScript.
node(['--enable-source-maps', join(sampleDir, 'dist', 'main.js')]);
printStats(trace);
console.log(`\nEach order's timeline: npx tstrace tasks ${trace}`);
console.log(`All of it in a browser: npx tstrace view ${trace} --open`);

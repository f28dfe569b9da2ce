// A consumer of the installed package, compiled as Node resolves it: tstrace's declarations come from
// its dist/cjs build in a CommonJS project (package.json "type": "commonjs"), from dist/esm in an ES
// module project. The same source in both (consumers/esm/main.ts is a copy, checked by the test).
import { background, current, newTask, traced, type Context } from 'tstrace';

class Barista {
  // Compiled: @traced becomes the no-op `compiled` decorator; `ctx` (a tstrace Context) is the context.
  @traced({ log: ['order'] })
  make(ctx: Context, order: string) {
    return `${order}, ambient task ${current().task === null ? 'none' : 'some'}`;
  }
}

// trace:region
function steam(ctx: Context) {
  return ctx.task !== null;
}

const handlers = {
  brew: // trace:region
    (ctx: Context | undefined, cups: number) => cups * 2,
};

export const scenarios = {
  run(observe: (label: string, value: unknown) => void) {
    // The task is only passed: the ambient context stays the background one.
    const [ctx, task] = newTask(background, 'order');
    observe('make', new Barista().make(ctx, 'latte'));
    observe('steam', steam(ctx));
    observe('brew', handlers.brew(ctx, 2));
    task.end();
  },
};

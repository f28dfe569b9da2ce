// Callbacks as Node code has them: route handlers passed to a framework, a query helper in an object,
// a view in a class field, a middleware factory's returned function, a default export. What the
// directives test checks in the trace: names, locations, tasks and nesting under concurrent requests.
import { current, log } from 'tstrace';
// The module's own default export, to run it.
import serve from './callbacks.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Request {
  readonly path: string;
  readonly id: number;
}
interface Response {
  readonly sent: string[];
}
type Handler = (req: Request, res: Response, next: () => void) => unknown;

/** A framework-like router: `get` registers a route's handlers, `request` runs them Express-style. */
class App {
  readonly #routes = new Map<string, Handler[]>();
  get(path: string, ...handlers: Handler[]): void {
    this.#routes.set(path, handlers);
  }
  async request(path: string, id: number): Promise<string[]> {
    const res: Response = { sent: [] };
    for (const handler of this.#routes.get(path) ?? []) {
      let next = false;
      await handler({ path, id }, res, () => (next = true));
      if (!next) break;
    }
    return res.sent;
  }
}

const app = new App();

const db = {
  query: // trace:region
    async (sql: string) => {
      await sleep(1 + Math.random() * 3);
      return sql.length;
    },
};

class Views {
  render = // trace:region
    (rows: number) => `<p>${rows}</p>`;
}
const views = new Views();

/** A middleware factory: the returned function is what runs on each request. */
function tagged(tag: string): Handler {
  return ( // trace:region
    (req, _res, next) => {
      log(current(), 'tag', `${tag} ${req.id}`);
      next();
    }
  );
}

app.get('/orders', tagged('orders'), // trace:task listOrders
  async (req, res) => {
    const rows = await db.query(`select * from orders where id = ${req.id}`);
    res.sent.push(views.render(rows));
  });

app.get('/health',
  // trace:region
  (_req, res) => {
    res.sent.push('ok');
  });

/** Twenty concurrent requests, alternating between the two routes. */
export default // trace:region
async () => Promise.all(Array.from({ length: 20 }, (_, i) => app.request(i % 2 === 0 ? '/orders' : '/health', i)));

export const scenarios = {
  async run(observe: (label: string, value: unknown) => void) {
    observe('responses', await serve());
  },
};

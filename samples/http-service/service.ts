/**
 * A small drinks service, traced with `@traced` decorators that tspc compiles in (see tsconfig.json's
 * "plugins"): the code below has no other tracing.
 *
 * `GET /drinks/:name?size=small|medium|large` answers the drink's price as JSON, or 404. Each request
 * is a task `handleRequest`, made of three regions: `DrinkService.parse` (the URL), `Database.findDrink`
 * (a slow lookup, which logs the name it looks up) and `DrinkService.render` (the JSON). The lookup is
 * async: while one request waits for the database, others are parsed, looked up and rendered, and
 * each lookup runs on a flow of its own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { traced } from 'tstrace';

export interface Drink {
  readonly name: string;
  /** Price of a medium one, in cents. */
  readonly cents: number;
}

export type Size = 'small' | 'medium' | 'large';

interface DrinkQuery {
  readonly name: string;
  readonly size: Size;
}

const SIZES: Readonly<Record<Size, number>> = { small: 0.8, medium: 1, large: 1.3 };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A database that takes its time: each lookup waits a few milliseconds. */
export class Database {
  readonly #drinks: ReadonlyMap<string, Drink>;
  readonly #wait: (ms: number) => Promise<void>;

  /** `wait`: how a lookup takes its time (bench/http-inprocess.mjs waits one turn of the event loop instead). */
  constructor(drinks: readonly Drink[], wait: (ms: number) => Promise<void> = sleep) {
    this.#drinks = new Map(drinks.map((drink) => [drink.name, drink]));
    this.#wait = wait;
  }

  // Region "Database.findDrink", with the name looked up as a log of the request's task.
  @traced({ log: ['name'] })
  async findDrink(name: string): Promise<Drink | undefined> {
    await this.#wait(4 + (name.length % 4) * 2);
    return this.#drinks.get(name);
  }
}

export class DrinkService {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  // Each call is a task "handleRequest" (and its region); the calls it makes see the task.
  @traced({ task: true, name: 'handleRequest' })
  async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const query = this.parse(req.method ?? 'GET', req.url ?? '/');
    if (typeof query === 'number') {
      this.send(res, query, { error: query === 405 ? 'only GET is served' : 'try /drinks/:name?size=small|medium|large' });
      return;
    }
    const drink = await this.#db.findDrink(query.name);
    const [status, body] = this.render(query, drink);
    this.send(res, status, body);
  }

  /** The drink and size asked for, or the HTTP status of a request we cannot serve. */
  @traced
  parse(method: string, url: string): DrinkQuery | number {
    if (method !== 'GET') return 405;
    const { pathname, searchParams } = new URL(url, 'http://localhost');
    const match = /^\/drinks\/([a-z-]+)$/.exec(pathname);
    const size = searchParams.get('size') ?? 'medium';
    if (!match || !(size in SIZES)) return 400;
    return { name: match[1]!, size: size as Size };
  }

  @traced
  render(query: DrinkQuery, drink: Drink | undefined): [status: number, body: object] {
    if (!drink) return [404, { error: `no ${query.name} on the menu` }];
    return [200, { drink: drink.name, size: query.size, price: (Math.round(drink.cents * SIZES[query.size]) / 100).toFixed(2) }];
  }

  private send(res: ServerResponse, status: number, body: object): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  }
}

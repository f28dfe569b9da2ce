/** Talking to a running `tstrace view` from tests. */
import { expect } from 'vitest';

/** `get(path)`: the JSON the viewer at `url()` answers for `path`, which must answer 200. */
export function viewerApi(url: () => string) {
  // JSON of the viewer's API: each test says what it expects of it.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return async function get<T = any>(path: string): Promise<T> {
    const response = await fetch(new URL(path, url()));
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };
}

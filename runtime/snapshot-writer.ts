/**
 * Writes a snapshot's frames to where `FlightRecorder.writeTo` was told: a file path (created or
 * truncated, then closed) or a Node `Writable` (honouring its backpressure, left open).
 */
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';

/** Writes `chunks` to `writer`; resolves with the bytes written, rejects with the writer's error. */
export async function writeChunks(writer: string | Writable, chunks: Iterable<Uint8Array>): Promise<number> {
  return typeof writer === 'string' ? writeFile(writer, chunks) : writeStream(writer, chunks);
}

async function writeFile(path: string, chunks: Iterable<Uint8Array>): Promise<number> {
  const file = await open(path, 'w');
  let bytes = 0;
  try {
    for (const chunk of chunks) {
      let at = 0;
      while (at < chunk.length) at += (await file.write(chunk, at)).bytesWritten;
      bytes += chunk.length;
    }
  } finally {
    await file.close();
  }
  return bytes;
}

function writeStream(stream: Writable, chunks: Iterable<Uint8Array>): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const next = chunks[Symbol.iterator]();
    let bytes = 0;
    let pending = 0;
    let exhausted = false;
    let settled = false;
    const finish = (error: unknown): void => {
      if (settled) return;
      settled = true;
      stream.off('error', finish);
      stream.off('drain', pump);
      if (error === null) resolve(bytes);
      else reject(error instanceof Error ? error : new Error(String(error)));
    };
    const written = (length: number) => (error?: Error | null): void => {
      pending--;
      if (error) return finish(error);
      bytes += length;
      if (exhausted && pending === 0) finish(null);
    };
    function pump(): void {
      while (!settled) {
        const item = next.next();
        if (item.done) {
          exhausted = true;
          if (pending === 0) finish(null);
          return;
        }
        pending++;
        let ready: boolean;
        try {
          ready = stream.write(item.value, written(item.value.length));
        } catch (error) {
          return finish(error);
        }
        if (!ready) return; // 'drain' pumps again
      }
    }
    stream.on('error', finish);
    stream.on('drain', pump);
    pump();
  });
}

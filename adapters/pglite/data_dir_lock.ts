/** An exclusive OS lock on a data folder: PGlite does not lock its files, and two writers lose commits. */

/** Raised when another process holds the folder. */
export class DataDirLockedError extends Error {
  override readonly name = "DataDirLockedError";
}

/** A held lock; release it on shutdown (the OS releases it too if the process dies). */
export interface DataDirLock {
  release(): void;
}

/** Takes the lock on `<dir>/.lock` (creating the folder), or throws DataDirLockedError at once. */
export async function lockDataDir(dir: string, waitMs = 300): Promise<DataDirLock> {
  await Deno.mkdir(dir, { recursive: true });
  const file = await Deno.open(`${dir}/.lock`, { create: true, write: true, read: true });
  // Deno has no try-lock: a lock that is not granted within waitMs is held by someone else.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const granted = await Promise.race([
    file.lock(true).then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
  ]);
  clearTimeout(timer);
  if (!granted) {
    throw new DataDirLockedError(
      `the data folder ${dir} is in use by another process (lock ${dir}/.lock); ` +
        "stop it first, or set DATA_DIR to another folder",
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return {
    release() {
      try {
        file.unlockSync();
        file.close();
      } catch { /* already released */ }
    },
  };
}

/**
 * Password hashing with argon2id (hash-wasm: WebAssembly, no native build, the same under Deno and Node).
 * Parameters from OWASP's Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1 (its first recommended row).
 * Hashes are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), so parameters can rise later: a hash made with
 * weaker ones is reported by `needsRehash` and replaced at the next sign-in.
 */
import { argon2id, argon2Verify } from "hash-wasm";
import type { PasswordHasher } from "../../application/usercenter/ports.ts";
import type { HashWorkerPool } from "./worker_pool.ts";

export interface Argon2Parameters {
  /** Memory in KiB. */
  readonly memoryKib: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/** OWASP's recommendation (2025): argon2id, 19 MiB, 2 iterations, 1 lane. */
export const owaspArgon2: Argon2Parameters = { memoryKib: 19_456, iterations: 2, parallelism: 1 };

/**
 * With a `pool`, the work runs in worker threads, so a sign-in neither holds the API's other requests for the
 * hash's tens of milliseconds nor leaves the other cores idle; without one it runs on the calling thread.
 */
export class Argon2Hasher implements PasswordHasher {
  readonly #parameters: Argon2Parameters;
  readonly #pool: HashWorkerPool | undefined;
  #decoy: Promise<string> | undefined;

  constructor(parameters: Argon2Parameters = owaspArgon2, options: { pool?: HashWorkerPool } = {}) {
    this.#parameters = parameters;
    this.#pool = options.pool;
  }

  hash(password: string): Promise<string> {
    const { memoryKib, iterations, parallelism } = this.#parameters;
    const salt = crypto.getRandomValues(new Uint8Array(16));
    if (this.#pool) {
      return this.#pool.run<string>({ op: "hash", password, salt, memoryKib, iterations, parallelism });
    }
    return argon2id({
      password,
      salt,
      memorySize: memoryKib,
      iterations,
      parallelism,
      hashLength: 32,
      outputType: "encoded",
    });
  }

  async verify(hash: string, password: string): Promise<boolean> {
    if (!hash.startsWith("$argon2id$")) return false;
    // A hash that does not parse verifies nothing (false); a pool that fails is an error, not a wrong password.
    if (this.#pool) return await this.#pool.run<boolean>({ op: "verify", password, hash });
    try {
      return await argon2Verify({ password, hash });
    } catch {
      return false;
    }
  }

  async verifyNothing(password: string): Promise<void> {
    // A real hash with the current parameters, made once: verifying against it costs what a real check costs.
    // Forgotten when it fails (a worker that died): the next sign-in makes it again.
    this.#decoy ??= this.hash(crypto.randomUUID()).catch((error) => {
      this.#decoy = undefined;
      throw error;
    });
    await this.verify(await this.#decoy, password);
  }

  needsRehash(hash: string): boolean {
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(hash);
    if (!match) return true;
    const [m, t, p] = match.slice(1).map(Number);
    const want = this.#parameters;
    return m < want.memoryKib || t < want.iterations || p !== want.parallelism;
  }
}

/**
 * Password hashing with argon2id (hash-wasm: WebAssembly, no native build, the same under Deno and Node).
 * Parameters from OWASP's Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1 (its first recommended row).
 * Hashes are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), so parameters can rise later: a hash made with
 * weaker ones is reported by `needsRehash` and replaced at the next sign-in.
 */
import { argon2id, argon2Verify } from "hash-wasm";
import type { PasswordHasher } from "../../application/usercenter/ports.ts";

export interface Argon2Parameters {
  /** Memory in KiB. */
  readonly memoryKib: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/** OWASP's recommendation (2025): argon2id, 19 MiB, 2 iterations, 1 lane. */
export const owaspArgon2: Argon2Parameters = { memoryKib: 19_456, iterations: 2, parallelism: 1 };

export class Argon2Hasher implements PasswordHasher {
  readonly #parameters: Argon2Parameters;
  #decoy: Promise<string> | undefined;

  constructor(parameters: Argon2Parameters = owaspArgon2) {
    this.#parameters = parameters;
  }

  hash(password: string): Promise<string> {
    const { memoryKib, iterations, parallelism } = this.#parameters;
    return argon2id({
      password,
      salt: crypto.getRandomValues(new Uint8Array(16)),
      memorySize: memoryKib,
      iterations,
      parallelism,
      hashLength: 32,
      outputType: "encoded",
    });
  }

  async verify(hash: string, password: string): Promise<boolean> {
    if (!hash.startsWith("$argon2id$")) return false;
    try {
      return await argon2Verify({ password, hash });
    } catch {
      return false;
    }
  }

  async verifyNothing(password: string): Promise<void> {
    // A real hash with the current parameters, made once: verifying against it costs what a real check costs.
    this.#decoy ??= this.hash(crypto.randomUUID());
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

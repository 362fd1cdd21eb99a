// Simulated flash behind require("Storage"): named byte blobs, kept per board and,
// when a directory is given, written through to disk so a board created again on
// the same directory (a simulated reboot) finds them.
import * as fs from 'fs';
import * as path from 'path';

/** Espruino's per-file header, counted against free space. */
const FILE_OVERHEAD = 32;

export class SimFlash {
  private files = new Map<string, Buffer>();

  constructor(readonly capacity: number, private dir?: string) {
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      for (const f of fs.readdirSync(dir)) {
        if (f.endsWith('.bin')) this.files.set(Buffer.from(f.slice(0, -4), 'hex').toString('latin1'), fs.readFileSync(path.join(dir, f)));
      }
    }
  }

  read(name: string): Buffer | undefined {
    return this.files.get(name);
  }

  list(): string[] {
    return [...this.files.keys()].sort();
  }

  used(): number {
    let n = 0;
    for (const b of this.files.values()) n += b.length + FILE_OVERHEAD;
    return n;
  }

  free(): number {
    return Math.max(0, this.capacity - this.used());
  }

  /**
   * offset < 0: replace the file. Otherwise write into it at offset; a file that
   * does not exist yet is created with `size` bytes of erased flash (0xFF).
   * Returns an error message, or '' on success.
   */
  write(name: string, data: Buffer, offset: number, size: number): string {
    const old = this.files.get(name);
    let next: Buffer;
    if (offset < 0) {
      next = Buffer.from(data);
    } else {
      const base = old ?? (size > 0 ? Buffer.alloc(size, 0xff) : undefined);
      if (!base) return `Storage.write("${name}", data, ${offset}): the file does not exist; give a size on the first write`;
      if (offset + data.length > base.length) {
        return `Storage.write("${name}"): ${data.length} bytes at offset ${offset} overrun the file's ${base.length} bytes`;
      }
      next = Buffer.from(base);
      data.copy(next, offset);
    }
    const growth = next.length - (old ? old.length : -FILE_OVERHEAD);
    if (growth > this.free()) return `Storage full: cannot write ${next.length} bytes to "${name}" (${this.free()} bytes free)`;
    this.files.set(name, next);
    this.persist(name);
    return '';
  }

  erase(name: string): void {
    if (this.files.delete(name)) this.persist(name);
  }

  eraseAll(): void {
    for (const name of [...this.files.keys()]) this.erase(name);
  }

  private persist(name: string): void {
    if (!this.dir) return;
    const file = path.join(this.dir, Buffer.from(name, 'latin1').toString('hex') + '.bin');
    const data = this.files.get(name);
    if (data) fs.writeFileSync(file, data);
    else fs.rmSync(file, { force: true });
  }
}

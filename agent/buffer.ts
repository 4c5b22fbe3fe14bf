// The bounded in-memory queue between the hot path and the exporter. Sizes are estimates
// (cheap to compute on the hot path); when the bound is reached new items are dropped and counted.
export class BoundedQueue<T> {
  private items: T[] = [];
  private sizes: number[] = [];
  bytes = 0;
  dropped = 0;

  constructor(private readonly maxBytes: number) {}

  push(item: T, size: number): boolean {
    if (this.bytes + size > this.maxBytes) {
      this.dropped++;
      return false;
    }
    this.items.push(item);
    this.sizes.push(size);
    this.bytes += size;
    return true;
  }

  get length(): number {
    return this.items.length;
  }

  /** Removes and returns up to n items from the front. */
  take(n: number): T[] {
    const out = this.items.splice(0, n);
    const sizes = this.sizes.splice(0, out.length);
    for (const s of sizes) this.bytes -= s;
    return out;
  }
}

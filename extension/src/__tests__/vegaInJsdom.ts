/**
 * What Vega and Vega-Lite expect of a browser that jsdom leaves out; import this before them.
 * - `structuredClone`, which Vega-Lite calls on the specifications it compiles: those are plain
 *   JSON, so a JSON round trip clones them alike.
 * - A canvas 2D context, which Vega probes for text measurement at import: without one it
 *   estimates text widths, as it does in Node (jsdom would log "not implemented" instead).
 */
if (typeof globalThis.structuredClone !== 'function') {
  globalThis.structuredClone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
}
HTMLCanvasElement.prototype.getContext = (() =>
  null) as typeof HTMLCanvasElement.prototype.getContext;

export {};

/**
 * Small formatting helpers for the panel.
 */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Time units, longest first, as JupyterLab's `Time.formatHuman` walks them. */
const TIME_UNITS: ReadonlyArray<[Intl.RelativeTimeFormatUnit, number]> = [
  ['years', 365 * 24 * 60 * 60 * 1000],
  ['months', 30 * 24 * 60 * 60 * 1000],
  ['days', 24 * 60 * 60 * 1000],
  ['hours', 60 * 60 * 1000],
  ['minutes', 60 * 1000],
  ['seconds', 1000]
];

const relativeFormats = new Map<string, Intl.RelativeTimeFormat>();
const absoluteFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * One formatter per page language. JupyterLab's `Time` helpers build a new `Intl` formatter per
 * call; in a scrolled list that is thousands of ICU objects whose finalisation stalled frames
 * for hundreds of milliseconds (bench/RESULTS_JOBS_UI.md).
 */
function cached<T>(cache: Map<string, T>, make: (lang: string) => T): T {
  const lang = document.documentElement.lang || 'en';
  let formatter = cache.get(lang);
  if (!formatter) {
    formatter = make(lang);
    cache.set(lang, formatter);
  }
  return formatter;
}

/**
 * Format a byte count the way people read memory and disk sizes: `16 GiB`, `1.5 MiB`.
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const rounded = unit === 0 || value >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${rounded} ${UNITS[unit]}`;
}

/**
 * "3 minutes ago"; an empty string for a missing or unparseable time.
 */
export function formatRelative(value: string | null | undefined): string {
  const time = value ? new Date(value).getTime() : NaN;
  if (Number.isNaN(time)) {
    return '';
  }
  const formatter = cached(
    relativeFormats,
    lang => new Intl.RelativeTimeFormat(lang, { numeric: 'auto', style: 'long' })
  );
  const delta = time - Date.now();
  for (const [unit, ms] of TIME_UNITS) {
    // Toward zero: "3 minutes ago", and "in 2 hours" where `Time.formatHuman`'s ceiling says
    // "next year" for every future time (a schedule's next run).
    const amount = Math.trunc(delta / ms);
    if (amount !== 0) {
      return formatter.format(amount, unit);
    }
  }
  return formatter.format(0, 'seconds');
}

/**
 * A full local date and time, for tooltips.
 */
export function formatAbsolute(value: string | null | undefined): string {
  const date = value ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    return '';
  }
  const formatter = cached(
    absoluteFormats,
    lang => new Intl.DateTimeFormat(lang, { dateStyle: 'short', timeStyle: 'short' })
  );
  return formatter.format(date);
}

/**
 * The last segment of a path: `exp/train.ipynb` -> `train.ipynb`.
 */
export function basename(path: string): string {
  const parts = path.split('/').filter(part => part.length > 0);
  return parts.length ? parts[parts.length - 1] : path;
}

/**
 * Plural helper: `plural(1, 'GPU')` -> `1 GPU`, `plural(2, 'GPU')` -> `2 GPUs`.
 */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * A metric or parameter value, short: `0.9123`, `3e-4` as `3.00e-4`, whole numbers as is.
 */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) {
    return String(value);
  }
  return Math.abs(value) >= 1000 || Math.abs(value) < 0.001
    ? value.toExponential(2)
    : value.toPrecision(4).replace(/0+$/, '').replace(/\.$/, '');
}

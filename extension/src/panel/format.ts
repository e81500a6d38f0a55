/**
 * Small formatting helpers for the panel.
 */
import { Time } from '@jupyterlab/coreutils';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

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
  if (!value || Number.isNaN(new Date(value).getTime())) {
    return '';
  }
  return Time.formatHuman(value);
}

/**
 * A full local date and time, for tooltips.
 */
export function formatAbsolute(value: string | null | undefined): string {
  if (!value || Number.isNaN(new Date(value).getTime())) {
    return '';
  }
  return Time.format(value);
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

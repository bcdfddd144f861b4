// Figures → markdown: every figure is the median of its runs with the min–max beside it, and each
// row's ratio to the baseline row (polymongo-rs) measured in the same run.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

const sorted = (values) => [...values].sort((a, b) => a - b);
export const median = (values) => {
  const s = sorted(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
/** The value below which `p` percent of the sorted values fall. */
export const percentile = (sortedValues, p) => sortedValues[Math.min(sortedValues.length - 1, Math.floor((p / 100) * sortedValues.length))];

function format(value) {
  if (value === 0) return '0';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cell(values, base) {
  if (!values?.length) return '—';
  const m = median(values);
  const s = sorted(values);
  const spread = s.length > 1 ? ` (${format(s[0])}–${format(s.at(-1))})` : '';
  const ratio = base === undefined || base === 0 ? '' : ` · ${format(m / base)}×`;
  return `**${format(m)}**${spread}${ratio}`;
}

/**
 * A table: `columns` [{ key, label }], `rows` [{ key, name, values: { [column]: number[] } }]. Each
 * cell also gives its median ÷ the median of the polymongo-rs row.
 */
export function markdown({ title, note, columns, rows }, baseline = 'polymongo-rs') {
  const base = rows.find((row) => row.key === baseline);
  const lines = [`### ${title}`, ''];
  if (note) lines.push(note, '');
  lines.push(`| contender | ${columns.map((c) => c.label).join(' | ')} |`, `|---|${columns.map(() => '---|').join('')}`);
  for (const row of rows) {
    const cells = columns.map((c) => cell(row.values[c.key], base?.values[c.key]?.length ? median(base.values[c.key]) : undefined));
    lines.push(`| ${row.name} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Collects runs into rows, in the order contenders were first seen. */
export class Rows {
  #rows = new Map();
  add(key, name, column, value) {
    if (!this.#rows.has(key)) this.#rows.set(key, { key, name, values: {} });
    (this.#rows.get(key).values[column] ??= []).push(value);
  }
  get list() {
    return [...this.#rows.values()];
  }
}

/** Contenders in alternating order: forwards on even rounds, backwards on odd ones. */
export const alternate = (list, round) => (round % 2 === 0 ? list : [...list].reverse());

export function machine() {
  const cpus = os.cpus();
  const version = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return undefined;
    }
  };
  return {
    cpu: cpus[0]?.model.trim(),
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    rustc: version('rustc', ['--version']),
  };
}

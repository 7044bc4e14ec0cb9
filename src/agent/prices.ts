/**
 * What a Messages API call costs: a dated table of list prices (USD per million
 * tokens) for the models @anthropic-ai/sdk 1.12 names in its `Model` type.
 * Sources: platform.claude.com "Pricing" and the model pages, as of
 * PRICE_TABLE_DATE. Prices change; a call records the table's date beside its
 * cost, and a model missing here is unpriced (`null`), never guessed.
 *
 * Not modelled: 1-hour cache writes (perflab only writes 5-minute entries),
 * Batch API and fast-mode rates, regional (inference_geo) surcharges.
 */
import type { Model } from '@anthropic-ai/sdk/resources/messages';
import type { TokenUsage } from './types.js';

/** The date the table below was checked against the published prices. */
export const PRICE_TABLE_DATE = '2026-11-10';

/** The default model: the current Sonnet (best speed/intelligence balance). */
export const DEFAULT_MODEL: Model = 'claude-sonnet-5-5';

/** USD per million tokens. */
export interface Rates {
  input: number;
  output: number;
  /** 5-minute cache write (cache_creation_input_tokens). */
  cacheWrite5m: number;
  /** Cache hit (cache_read_input_tokens). */
  cacheRead: number;
}

export interface ModelPrice extends Rates {
  /**
   * Rates for a request whose prompt (input + cache writes + cache reads) is
   * longer than `thresholdTokens`; they apply to every token of that request.
   */
  longPrompt?: Rates & { thresholdTokens: number };
}

const rates = (input: number, output: number, cacheWrite5m: number, cacheRead: number): Rates => ({
  input,
  output,
  cacheWrite5m,
  cacheRead,
});

const OPUS_4_5_TO_5 = rates(5, 25, 6.25, 0.5);
const FABLE_5 = rates(10, 50, 12.5, 1);
const FABLE_5_1 = rates(10, 50, 12.5, 0.25);
const SONNET_4 = rates(3, 15, 3.75, 0.3);

/**
 * List prices by model id (aliases; dated snapshot ids map onto them).
 * `claude-mythos-5-2` and `claude-mythos-preview` are left out: their prices
 * were not published where checked, so they are reported as unpriced.
 */
export const PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-fable-5-2': rates(8, 40, 10, 0.2),
  'claude-fable-5-1': FABLE_5_1,
  'claude-mythos-5-1': FABLE_5_1,
  'claude-fable-5': FABLE_5,
  'claude-mythos-5': FABLE_5,
  'claude-opus-5-5': rates(4, 20, 5, 0.2),
  'claude-opus-5': OPUS_4_5_TO_5,
  'claude-opus-4-8': OPUS_4_5_TO_5,
  'claude-opus-4-7': OPUS_4_5_TO_5,
  'claude-opus-4-6': OPUS_4_5_TO_5,
  'claude-opus-4-5': OPUS_4_5_TO_5,
  // Sonnet 5.5 cache reads were cut from $0.20 to $0.10 on 2026-10-07.
  'claude-sonnet-5-5': rates(2, 10, 2.5, 0.1),
  'claude-sonnet-5': rates(2, 10, 2.5, 0.2),
  'claude-sonnet-4-6': SONNET_4,
  'claude-sonnet-4-5': SONNET_4,
  'claude-haiku-5-5': {
    ...rates(0.1, 0.5, 0.125, 0.01),
    longPrompt: { ...rates(0.5, 2.5, 0.625, 0.05), thresholdTokens: 100_000 },
  },
  'claude-haiku-4-5': rates(1, 5, 1.25, 0.1),
};

/** The table entry for a model id: exact, else without a `-YYYYMMDD` snapshot suffix or a `[1m]` tag. */
export function priceFor(model: string | null | undefined): ModelPrice | null {
  if (!model) return null;
  const id = model.trim().toLowerCase().replace(/\[1m\]$/, '');
  return PRICES[id] ?? PRICES[id.replace(/-\d{8}$/, '')] ?? null;
}

/** Cost of one call in USD (rounded to 1e-8), or null when the model is not in the table. */
export function costUsd(model: string | null | undefined, usage: TokenUsage): number | null {
  const price = priceFor(model);
  if (price === null) return null;
  const prompt = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
  const r: Rates = price.longPrompt && prompt > price.longPrompt.thresholdTokens ? price.longPrompt : price;
  const usd =
    (usage.input_tokens * r.input +
      usage.output_tokens * r.output +
      usage.cache_creation_input_tokens * r.cacheWrite5m +
      usage.cache_read_input_tokens * r.cacheRead) /
    1_000_000;
  return Math.round(usd * 1e8) / 1e8;
}

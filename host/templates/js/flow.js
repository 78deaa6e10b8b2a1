// A dialplane call flow in JavaScript: the same behaviour as the Rust
// template (dial everyone but opted-out leads; tag each with its outcome).
import { log } from 'dialplane:plugin/log@0.2.0';

/** The run setting `key` as a whole number, or `fallback`. */
function settingOr(ctx, key, fallback) {
  const entry = ctx.settings.find(([k]) => k === key);
  const value = entry ? entry[1].trim() : '';
  if (value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    log('warn', `setting \`${key}\` = ${JSON.stringify(value)} is invalid; using the default`);
    return fallback;
  }
  return n;
}

function attr(lead, key) {
  const entry = lead.attributes.find(([k]) => k === key);
  return entry ? entry[1] : undefined;
}

/** `answered-human`, `busy`, `no-answer`, … as the Rust SDK's `label()`. */
function label(outcome) {
  return outcome.tag === 'answered' ? `answered-${outcome.val}` : outcome.tag;
}

export const flow = {
  plan(ctx, lead) {
    if (attr(lead, 'opted_out') === 'yes') {
      return { tag: 'skip', val: 'lead opted out' };
    }
    return {
      tag: 'dial',
      val: {
        to: lead.phone,
        callerId: undefined,
        timeoutSecs: settingOr(ctx, 'timeout_secs', 30),
        idempotencyKey: '',
        metadata: [],
      },
    };
  },

  onResult(ctx, lead, report) {
    const outcome = label(report.outcome);
    log('info', `${lead.id}: ${outcome}`);
    return { retryAfterSecs: undefined, leadStatus: undefined, note: undefined, tags: [outcome] };
  },
};

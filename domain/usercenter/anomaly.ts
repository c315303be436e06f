/**
 * Login anomaly detection (seed 002, "异常检测"): a sign-in from an address or a browser the account has not
 * used before, or a burst of failed attempts. Pure: the handler gives it the account's recent history.
 */

/** One sign-in or failed attempt, as the login log keeps it. */
export interface LoginAttempt {
  readonly succeeded: boolean;
  readonly address: string;
  readonly userAgent: string;
  readonly at: Date;
}

export type AnomalyKind = "new-address" | "new-user-agent" | "failure-burst";

export interface Anomaly {
  readonly kind: AnomalyKind;
  readonly detail: string;
}

/** Thresholds of the detection. */
export interface AnomalyRules {
  /** Failed attempts within `burstWindowMs` (this one included) that make a burst. */
  readonly burstFailures: number;
  readonly burstWindowMs: number;
}

/**
 * The anomalies `attempt` shows against `history` (the account's earlier attempts, any order). A first
 * sign-in is not an anomaly: there is nothing to compare with. A burst is reported once, when it is reached.
 */
export function detectAnomalies(
  attempt: LoginAttempt,
  history: readonly LoginAttempt[],
  rules: AnomalyRules,
): Anomaly[] {
  const anomalies: Anomaly[] = [];
  if (attempt.succeeded) {
    const earlier = history.filter((h) => h.succeeded && h.at <= attempt.at);
    if (earlier.length > 0 && !earlier.some((h) => h.address === attempt.address)) {
      anomalies.push({ kind: "new-address", detail: `first sign-in from ${attempt.address}` });
    }
    if (earlier.length > 0 && !earlier.some((h) => h.userAgent === attempt.userAgent)) {
      anomalies.push({ kind: "new-user-agent", detail: `first sign-in with "${attempt.userAgent}"` });
    }
    return anomalies;
  }
  const since = attempt.at.getTime() - rules.burstWindowMs;
  const failures = 1 +
    history.filter((h) => !h.succeeded && h.at.getTime() > since && h.at <= attempt.at).length;
  if (failures === rules.burstFailures) {
    anomalies.push({
      kind: "failure-burst",
      detail: `${failures} failed sign-ins within ${Math.round(rules.burstWindowMs / 60_000)} min`,
    });
  }
  return anomalies;
}

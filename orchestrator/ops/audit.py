"""The ledger audit: checks design.md's money invariants over the whole database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

# Each query returns (subject, detail) rows, one per breach.
CHECKS: dict[str, str] = {
    "account_totals_match_journal": """
        SELECT a.account_id::text,
               format('credits_added=%s journal=%s, captured=%s journal=%s',
                      a.credits_added, coalesce(j.credits, 0), a.captured, coalesce(j.captures, 0))
        FROM accounts a
        LEFT JOIN (SELECT account_id,
                          sum(amount) FILTER (WHERE kind = 'credit') AS credits,
                          sum(amount) FILTER (WHERE kind = 'capture') AS captures
                   FROM ledger_entries GROUP BY account_id) j USING (account_id)
        WHERE a.credits_added <> coalesce(j.credits, 0) OR a.captured <> coalesce(j.captures, 0)""",
    "account_held_matches_open_holds": """
        SELECT a.account_id::text, format('held=%s open holds=%s', a.held, coalesce(h.open, 0))
        FROM accounts a
        LEFT JOIN (SELECT account_id, sum(amount) AS open FROM holds WHERE state = 'open'
                   GROUP BY account_id) h USING (account_id)
        WHERE a.held <> coalesce(h.open, 0)""",
    "account_open_jobs_matches_open_holds": """
        SELECT a.account_id::text, format('open_jobs=%s open holds=%s', a.open_jobs, coalesce(h.open, 0))
        FROM accounts a
        LEFT JOIN (SELECT account_id, count(*) AS open FROM holds WHERE state = 'open'
                   GROUP BY account_id) h USING (account_id)
        WHERE a.open_jobs <> coalesce(h.open, 0)""",
    "available_not_negative": """
        SELECT account_id::text, format('available=%s', credits_added - captured - held)
        FROM accounts WHERE credits_added - captured - held < 0 OR held < 0""",
    "every_job_has_its_hold": """
        SELECT j.job_id::text,
               CASE WHEN h.job_id IS NULL THEN 'no hold'
                    ELSE format('hold %s for price %s on account %s', h.amount, j.price, h.account_id) END
        FROM jobs j LEFT JOIN holds h USING (job_id)
        WHERE h.job_id IS NULL OR h.amount <> j.price OR h.account_id <> j.account_id""",
    "hold_state_follows_job_state": """
        SELECT j.job_id::text, format('job %s but hold %s', j.state, h.state)
        FROM jobs j JOIN holds h USING (job_id)
        WHERE NOT ((j.state = 'succeeded' AND h.state = 'captured')
                OR (j.state IN ('failed','cancelled','expired') AND h.state = 'released')
                OR (j.state NOT IN ('succeeded','failed','cancelled','expired') AND h.state = 'open'))""",
    "charged_iff_captured": """
        SELECT j.job_id::text, format('charged=%s hold %s of %s', j.charged, h.state, h.amount)
        FROM jobs j JOIN holds h USING (job_id)
        WHERE j.charged <> CASE WHEN h.state = 'captured' THEN h.amount ELSE 0 END""",
    "journal_matches_each_hold": """
        SELECT h.job_id::text,
               format('hold %s %s: journal hold=%s/%s capture=%s/%s release=%s/%s', h.state, h.amount,
                      e.holds, e.hold_sum, e.captures, e.capture_sum, e.releases, e.release_sum)
        FROM holds h
        LEFT JOIN (SELECT job_id,
                          count(*) FILTER (WHERE kind = 'hold') AS holds,
                          coalesce(sum(amount) FILTER (WHERE kind = 'hold'), 0) AS hold_sum,
                          count(*) FILTER (WHERE kind = 'capture') AS captures,
                          coalesce(sum(amount) FILTER (WHERE kind = 'capture'), 0) AS capture_sum,
                          count(*) FILTER (WHERE kind = 'release') AS releases,
                          coalesce(sum(amount) FILTER (WHERE kind = 'release'), 0) AS release_sum,
                          bool_and(account_id IS NOT NULL) AS ok
                   FROM ledger_entries WHERE job_id IS NOT NULL GROUP BY job_id) e USING (job_id)
        WHERE e.job_id IS NULL
           OR e.holds <> 1 OR e.hold_sum <> h.amount
           OR NOT ((h.state = 'open' AND e.captures = 0 AND e.releases = 0)
                OR (h.state = 'captured' AND e.captures = 1 AND e.capture_sum = h.amount
                    AND e.releases = 0)
                OR (h.state = 'released' AND e.releases = 1 AND e.release_sum = h.amount
                    AND e.captures = 0))""",
    "journal_entries_on_the_jobs_account": """
        SELECT e.entry_id::text, format('entry on account %s, job on %s', e.account_id, j.account_id)
        FROM ledger_entries e JOIN jobs j USING (job_id) WHERE e.account_id <> j.account_id""",
    "key_spend_matches_its_jobs_holds": """
        SELECT format('key %s month %s', coalesce(s.key_id, h.key_id), coalesce(s.month, h.month)),
               format('key_spend=%s open or captured holds=%s', coalesce(s.amount, 0), coalesce(h.amount, 0))
        FROM key_spend s
        FULL JOIN (SELECT j.api_key_id AS key_id,
                          date_trunc('month', j.created_at AT TIME ZONE 'UTC')::date AS month,
                          sum(h.amount) AS amount
                   FROM holds h JOIN jobs j USING (job_id)
                   WHERE h.state IN ('open', 'captured') AND j.api_key_id IS NOT NULL
                   GROUP BY 1, 2) h ON h.key_id = s.key_id AND h.month = s.month
        WHERE coalesce(s.amount, 0) <> coalesce(h.amount, 0)""",
    "no_hold_open_past_its_deadline": """
        SELECT job_id::text, format('%s since deadline %s', state, deadline_at)
        FROM jobs WHERE state NOT IN ('succeeded','failed','cancelled','expired')
          AND deadline_at < now() - :grace""",
}


@dataclass(frozen=True)
class Breach:
    check: str
    subject: str
    detail: str


def find_breaches(session: Session, *, stale_grace: timedelta = timedelta(minutes=15)) -> list[Breach]:
    """Every breach of the money invariants; empty when the ledger is sound."""
    breaches: list[Breach] = []
    for name, sql in CHECKS.items():
        params = {"grace": stale_grace} if ":grace" in sql else {}
        for subject, detail in session.execute(text(sql), params):
            breaches.append(Breach(name, subject, detail))
    return breaches

-- docs/decisions/0010: who holds a series' production pointer (NULL: free).
-- docs/decisions/0011: a series' own retention, and versions ranked by recency.

ALTER TABLE series
    ADD COLUMN pointer_holder text,
    ADD COLUMN keep_versions  integer CHECK (keep_versions > 0);

-- When a version last became useful: created, restored, or made production.
ALTER TABLE model_versions ADD COLUMN activated_at timestamptz;
UPDATE model_versions SET activated_at = created_at;
ALTER TABLE model_versions
    ALTER COLUMN activated_at SET NOT NULL,
    ALTER COLUMN activated_at SET DEFAULT now();

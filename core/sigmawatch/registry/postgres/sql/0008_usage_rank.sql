-- MOD-7 at fleet scale: the warm-up ranks series by usage that decays with a
-- one-week half-life (sigmawatch.usage_rank), so last month's hot series do
-- not crowd out today's. usage_count stays the plain total.
ALTER TABLE series ADD COLUMN usage_rank double precision;
-- Until now usage had no time; count what there is as used when last used.
UPDATE series
SET usage_rank = ln(usage_count) + extract(epoch FROM coalesce(last_used_at, updated_at))
    * ln(2) / (7 * 86400)
WHERE usage_count > 0;
DROP INDEX series_usage;
CREATE INDEX series_usage_rank ON series (usage_rank DESC NULLS LAST, series_id)
    WHERE production_version IS NOT NULL;

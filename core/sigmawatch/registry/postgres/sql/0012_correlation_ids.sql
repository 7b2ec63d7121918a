-- OBS-3: the correlation id of the retrain or rollout a row belongs to
-- (sigmawatch.audit), so one id finds the operator's, the Job's and the
-- service's part of one operation in the logs and in the registry alike.
ALTER TABLE audit_log ADD COLUMN correlation_id text;
ALTER TABLE training_results ADD COLUMN correlation_id text;
ALTER TABLE rollouts ADD COLUMN correlation_id text;
-- "Everything of this operation" reads the audit log by it.
CREATE INDEX audit_log_correlation ON audit_log (correlation_id, entry_id)
    WHERE correlation_id IS NOT NULL;

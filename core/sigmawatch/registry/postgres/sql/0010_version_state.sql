-- Fleet scale (issue 10): a serving process keeps every parametric production
-- model resident, built from these rows rather than from one artifact read per
-- model. `state` holds the fitted detector's numbers, as in the artifact's
-- manifest. A z-score's are the mean and std of its training statistics, the
-- same float64 computed the same way, so existing z-score versions get them
-- here; other kinds trained before this migration keep NULL and are served
-- from their artifacts until they are trained again.
ALTER TABLE model_versions ADD COLUMN state jsonb;
UPDATE model_versions
SET state = jsonb_build_object('mean', stats -> 'mean', 'std', stats -> 'std')
WHERE detector_kind = 'zscore' AND stats ? 'mean' AND stats ? 'std';

-- REG-5 at fleet scale: "production only" joined with another filter read
-- every version matching the other filter, since the production pointer
-- lives on the series row. Each version row now says whether it is
-- production, kept by a trigger wherever the pointer moves (a training that
-- promotes, a rollback, a pin, a rollout's promotion), so partial indexes
-- hold the production versions alone.
ALTER TABLE model_versions ADD COLUMN is_production boolean NOT NULL DEFAULT false;
UPDATE model_versions v SET is_production = true
FROM series s WHERE s.series_id = v.series_id AND s.production_version = v.version;

CREATE FUNCTION series_production_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE model_versions
    SET is_production = (version = NEW.production_version)
    WHERE series_id = NEW.series_id
      AND version IN (OLD.production_version, NEW.production_version);
    RETURN NULL;
END;
$$;
CREATE TRIGGER series_production_moved AFTER UPDATE OF production_version ON series
    FOR EACH ROW WHEN (OLD.production_version IS DISTINCT FROM NEW.production_version)
    EXECUTE FUNCTION series_production_moved();

DROP INDEX series_production;
CREATE INDEX model_versions_production ON model_versions (series_id, version)
    WHERE is_production;
CREATE INDEX model_versions_production_by_detector
    ON model_versions (detector_kind, series_id, version) WHERE is_production;

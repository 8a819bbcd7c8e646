namespace Tailor.Studio;

/// <summary>The workspace schema as an ordered list of steps; step i brings <c>PRAGMA user_version</c> from i to i + 1.
/// Each is applied in a transaction of its own. Never edit a released step: append one.</summary>
/// <remarks>Runs and model versions never reuse an id (AUTOINCREMENT): a model file is named by its version's id, and
/// a project's epoch history starts at a run id.</remarks>
internal static class Migrations
{
    public static readonly string[] Steps =
    [
        """
        CREATE TABLE projects (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            created TEXT NOT NULL,
            base_description TEXT NOT NULL,
            base_kind TEXT NOT NULL CHECK (base_kind IN ('embedded', 'onnx')),
            capacity INTEGER NOT NULL CHECK (capacity >= 1),
            current_version INTEGER NULL,
            history_from_run INTEGER NOT NULL DEFAULT 0,
            labels_version INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE labels (
            id INTEGER PRIMARY KEY,
            project INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            slot INTEGER NOT NULL CHECK (slot >= 0),
            UNIQUE (project, name),
            UNIQUE (project, slot)
        );
        CREATE TABLE examples (
            id INTEGER PRIMARY KEY,
            project INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            label INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
            example_set TEXT NOT NULL CHECK (example_set IN ('train', 'test')),
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
            format TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('upload', 'camera', 'import', 'paste')),
            original_name TEXT NULL,
            corrupt INTEGER NOT NULL DEFAULT 0,
            corrupt_reason TEXT NULL,
            added TEXT NOT NULL,
            UNIQUE (project, sha256)
        );
        CREATE INDEX examples_by_label ON examples (label, example_set);
        CREATE INDEX examples_by_hash ON examples (sha256);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            request TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT NULL,
            started TEXT NOT NULL,
            ended TEXT NULL,
            model_version INTEGER NULL
        );
        CREATE TABLE run_epochs (
            run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            train_loss_mean REAL,
            train_loss_last_batch REAL,
            train_accuracy REAL,
            validation_loss REAL,
            validation_accuracy REAL,
            learning_rate REAL,
            seconds REAL,
            PRIMARY KEY (run, epoch)
        );
        CREATE TABLE model_versions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            run INTEGER NULL REFERENCES runs(id) ON DELETE SET NULL,
            kind TEXT NOT NULL CHECK (kind IN ('base', 'trained', 'reset')),
            created TEXT NOT NULL,
            file TEXT NOT NULL,
            labels_version INTEGER NOT NULL DEFAULT 0,
            evaluation TEXT NULL
        );
        """,
        // recovery (issue 12): the model version a run started from, so an interrupted run resumes only on that model.
        "ALTER TABLE runs ADD COLUMN from_version INTEGER NULL;",
        // Scale (issue 12): the prefix fingerprints each project's runs used, so that the feature rows kept for them
        // (features/<fingerprint>/) are removed once no project uses them; an index for the gallery's query (one label's
        // training or test set of a project, a page in id order, and its count: no sort, no scan of the other labels) and
        // one for a project's examples in id order (a page at offset 4,000 without sorting the project).
        """
        CREATE TABLE feature_sets (
            project INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 64),
            used TEXT NOT NULL,
            PRIMARY KEY (project, fingerprint)
        );
        CREATE INDEX examples_by_project_set ON examples (project, example_set, label);
        CREATE INDEX examples_by_project ON examples (project);
        """,
        // versions (issue 12): which label held each slot when a version was made (JSON [[slot, label id, name], …]), so a
        // version is compared on the labels it knew; and what its stored evaluation was computed on (labels and test set).
        """
        ALTER TABLE model_versions ADD COLUMN slot_labels TEXT NULL;
        ALTER TABLE model_versions ADD COLUMN evaluation_key TEXT NULL;
        """,
        // A project being made by an import (a folder or a zip) is marked until its last photo is in: a process killed
        // during the import leaves it marked, and the next Open deletes it rather than keep a project with part of the photos.
        // A run records what its training photos were (labels and training set) when it began, so that Resume can say
        // when they changed since.
        """
        ALTER TABLE projects ADD COLUMN importing INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN training_set_key TEXT NULL;
        """,
    ];
}

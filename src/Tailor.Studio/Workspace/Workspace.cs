using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tailor.Studio;

/// <summary>
/// A studio workspace: a folder with <c>workspace.db</c> (SQLite, WAL, foreign keys on) holding projects, labels,
/// examples, runs and model versions; <c>images/ab/&lt;sha256&gt;</c> (each image's original bytes, named by their
/// content hash), <c>thumbs/ab/&lt;sha256&gt;.jpg</c> (made once, at most <see cref="ThumbnailSide"/> pixels a side),
/// <c>models/&lt;version id&gt;.onnx</c> and <c>bases/&lt;project id&gt;.onnx</c> (an uploaded base model). No file name
/// ever comes from user text. One process at a time: <c>workspace.lock</c> is held exclusively while it is open.
/// </summary>
/// <remarks>Thread-safe: every call takes the workspace's lock for its database work (runs call it from their background
/// threads); preparing, decoding and evaluating happen outside the lock. Every write is a transaction; model files are
/// written atomically (<see cref="AtomicFile"/>).</remarks>
public sealed partial class Workspace : IDisposable
{
    /// <summary>The schema version this code writes and reads (<c>PRAGMA user_version</c>).</summary>
    public static int SchemaVersion => Migrations.Steps.Length;

    private const string LockFileName = "workspace.lock";
    private const string OwnerFileName = "workspace.owner";

    private readonly object _gate = new();
    private readonly SqliteConnection _db;
    private readonly FileStream _lock;
    private bool _disposed;

    private Workspace(string directory, FileStream lockFile, SqliteConnection db)
    {
        Directory = directory;
        _lock = lockFile;
        _db = db;
    }

    /// <summary>The workspace folder (full path).</summary>
    public string Directory { get; }

    /// <summary>Opens the workspace in <paramref name="directory"/>, creating the folder and the database when needed and
    /// bringing an older schema up to date.</summary>
    /// <exception cref="TailorException">Another process (or another Open in this one) has the workspace open — the message
    /// says which process; the database was written by a newer Tailor; the folder cannot be created or the database is not
    /// a SQLite database.</exception>
    public static Workspace Open(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string full = Path.GetFullPath(directory);
        try
        {
            System.IO.Directory.CreateDirectory(full);
            foreach (string sub in new[] { "images", "thumbs", "models", "bases" })
                System.IO.Directory.CreateDirectory(Path.Combine(full, sub));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TailorException($"Cannot create the workspace folder '{Shown.Path(full)}': {e.Message}", e);
        }

        var lockFile = TakeLock(full);
        SqliteConnection? db = null;
        try
        {
            db = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(full, "workspace.db"),
                Mode = SqliteOpenMode.ReadWriteCreate,
                Pooling = false,
                ForeignKeys = true,
            }.ToString());
            db.Open();
            Execute(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
            Migrate(db, full);
            var workspace = new Workspace(full, lockFile, db);
            workspace.MarkInterruptedRuns();
            workspace.Sweep();
            return workspace;
        }
        catch (SqliteException e)
        {
            db?.Dispose();
            lockFile.Dispose();
            throw new TailorException($"'{Shown.Path(Path.Combine(full, "workspace.db"))}' cannot be opened as a workspace database: {e.Message}", e);
        }
        catch
        {
            db?.Dispose();
            lockFile.Dispose();
            throw;
        }
    }

    private static FileStream TakeLock(string directory)
    {
        string path = Path.Combine(directory, LockFileName);
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            string owner = $"process {Environment.ProcessId} ({(Environment.ProcessPath is { } p ? Path.GetFileName(p) : "unknown")}), since {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss} UTC";
            AtomicFile.WriteAllText(Path.Combine(directory, OwnerFileName), owner);
            return stream;
        }
        catch (IOException e)
        {
            string holder;
            try { holder = File.ReadAllText(Path.Combine(directory, OwnerFileName)).Trim(); }
            catch (Exception read) when (read is IOException or UnauthorizedAccessException) { holder = "another process"; }
            throw new TailorException(
                $"The workspace '{Shown.Path(directory)}' is in use by {holder}; one studio at a time can open a workspace. " +
                "Close that one, or open another workspace folder.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TailorException($"Cannot lock the workspace '{Shown.Path(directory)}': {e.Message}", e);
        }
    }

    private static void Migrate(SqliteConnection db, string directory)
    {
        long version = Scalar<long>(db, "PRAGMA user_version;");
        if (version > SchemaVersion)
            throw new TailorException(
                $"The workspace '{Shown.Path(directory)}' has schema version {version}, written by a newer Tailor; this one reads versions up to {SchemaVersion}. " +
                "Open it with that newer Tailor, or use another workspace folder.");
        for (long step = version; step < SchemaVersion; step++)
        {
            using var transaction = db.BeginTransaction();
            Execute(db, Migrations.Steps[step], transaction);
            Execute(db, $"PRAGMA user_version = {step + 1};", transaction);
            transaction.Commit();
        }
    }

    /// <summary>Closes the database and releases the workspace lock.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            DisposeLivePredictors();
            _db.Dispose();
            try { File.Delete(Path.Combine(Directory, OwnerFileName)); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            _lock.Dispose();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private static string Now() => DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    private static SqliteCommand Command(SqliteConnection db, string sql, SqliteTransaction? transaction, params (string Name, object? Value)[] parameters)
    {
        var command = db.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    private static int Execute(SqliteConnection db, string sql, SqliteTransaction? transaction = null, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(db, sql, transaction, parameters);
        return command.ExecuteNonQuery();
    }

    private static T Scalar<T>(SqliteConnection db, string sql, SqliteTransaction? transaction = null, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(db, sql, transaction, parameters);
        object? value = command.ExecuteScalar();
        return value is null or DBNull ? default! : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), CultureInfo.InvariantCulture);
    }

    private List<T> Query<T>(string sql, Func<SqliteDataReader, T> read, SqliteTransaction? transaction = null, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(_db, sql, transaction, parameters);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read()) rows.Add(read(reader));
        return rows;
    }

    private int Execute(string sql, SqliteTransaction? transaction = null, params (string Name, object? Value)[] parameters) =>
        Execute(_db, sql, transaction, parameters);

    private T Scalar<T>(string sql, SqliteTransaction? transaction = null, params (string Name, object? Value)[] parameters) =>
        Scalar<T>(_db, sql, transaction, parameters);

    /// <summary>Runs <paramref name="work"/> in a transaction under the lock: committed when it returns, rolled back when it throws.</summary>
    private T Write<T>(Func<SqliteTransaction, T> work)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var transaction = _db.BeginTransaction();
            T result = work(transaction);
            transaction.Commit();
            return result;
        }
    }

    private T Read<T>(Func<T> work)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return work();
        }
    }

    private string FullPath(string relative) => Path.Combine(Directory, relative);

    private static string? NullableString(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
    private static long? NullableLong(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt64(i);
    private static double DoubleOrNaN(SqliteDataReader r, int i) => r.IsDBNull(i) ? double.NaN : r.GetDouble(i);
    private static double? NullableDouble(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDouble(i);

    private static string SetName(ExampleSet set) => set == ExampleSet.Train ? "train" : "test";
    private static ExampleSet ParseSet(string text) => text == "train" ? ExampleSet.Train : ExampleSet.Test;
}

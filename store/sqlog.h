/*
 * sqlog.h - the SQLite mechanics shared by the two signed append-only
 * logs: the node's privacy ledger (node/ledger.h) and the coordinator's
 * transparency log (coordinator/translog.h). Each log describes its file
 * with a struct tly_sqlog_format; this module opens it the same way for
 * both, so that a fix to one is a fix to the other.
 *
 * A log file is an SQLite database with PRAGMA application_id and
 * user_version set to the format's values, a meta table (name TEXT, value
 * BLOB) holding the signer's Ed25519 public key under "sign_public_key",
 * and an entries table whose no-UPDATE/no-DELETE triggers come with the
 * format's schema. Opening:
 *
 *   - a writer (key != NULL) opens or creates the file; an empty database
 *     gets the schema, the two pragmas and the key in one BEGIN IMMEDIATE
 *     transaction (re-checked under the lock: two creators race safely);
 *     it then uses WAL, synchronous = FULL, and a busy timeout of the
 *     format's busy_ms; the recorded key must be the writer's (TLY_EAUTH);
 *   - a reader (key == NULL) opens read-only and refuses an empty file;
 *   - both refuse, with TLY_EFORMAT and a message naming the file, a file
 *     that is not SQLite, has another application_id (including a file
 *     with tables but application_id 0), another user_version (saying
 *     "upgrade tally" when it is newer), no recorded key, or an entries
 *     table without the format's columns.
 *
 * Messages use the format's noun ("ledger", "transparency log"). No
 * secrets pass through here. Thread-safety: one handle per thread, as
 * SQLite's.
 */
#ifndef TLY_STORE_SQLOG_H
#define TLY_STORE_SQLOG_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "crypto/error.h"
#include "crypto/sign.h"

struct tly_sqlog_format {
	const char *noun;       /* in messages: "ledger", "transparency log" */
	const char *wrong_key;  /* the message when the recorded key differs */
	const char *schema_sql; /* tables, indexes, append-only triggers */
	const char *meta_table; /* name of the (name, value) table */
	const char *columns;    /* the entries columns a reader selects */
	int32_t application_id;
	int32_t format_version;
	int busy_ms;
	int foreign_keys; /* writer sets PRAGMA foreign_keys = ON */
	int handovers;    /* the signer's key may be handed over (below) */
};

/* Opens `path` as described above: *db and pk (the recorded signer's key,
 * the one that signs entry 1) on TLY_OK. A format with handovers is opened
 * with tly_sqlog_open_handovers instead (this one does not check its
 * writer's key); on failure *db is NULL and msg (if
 * msg_len > 0) names the file and the cause. TLY_EIO: cannot open, lock or write. */
TLY_MUST tly_err tly_sqlog_open(sqlite3 **db, uint8_t pk[static TLY_SIGN_PUBLIC_BYTES],
                                const char *path, const struct tly_sqlog_format *f,
                                const struct tly_sign_key *key, char *msg, size_t msg_len);

enum {
	TLY_SQLOG_HASH_BYTES = 32, /* entry_hash, prev_hash */
};

/* The log's head: *next_seq = last seq + 1 and prev_hash = the last
 * entry_hash, or 1 and zeros for an empty log. TLY_EFORMAT: the last row
 * has a seq out of range or a hash of another length; TLY_EIO: SQL
 * failure. */
TLY_MUST tly_err tly_sqlog_head(sqlite3 *db, uint64_t *next_seq,
                                uint8_t prev_hash[static TLY_SQLOG_HASH_BYTES]);

/* An entry's seal: the hash the caller recomputed from the entry's
 * contents against the stored entry_hash (constant time), then the
 * Ed25519 signature over entry_hash under pk. The caller names the entry
 * in its message. */
enum tly_sqlog_seal {
	TLY_SQLOG_SEALED = 0,
	TLY_SQLOG_BAD_HASH,      /* entry_hash is not the hash of the contents */
	TLY_SQLOG_BAD_SIGNATURE, /* the signature does not verify under pk */
};
TLY_MUST enum tly_sqlog_seal
tly_sqlog_check_seal(const uint8_t computed[static TLY_SQLOG_HASH_BYTES],
                     const uint8_t entry_hash[static TLY_SQLOG_HASH_BYTES],
                     const uint8_t signature[static TLY_SIGN_BYTES],
                     const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES]);

/* A verifier's pass over a log: rows_sql selects every entry in seq
 * order; earlier_sql is prepared into *earlier for row to use (a lookup
 * of earlier entries), and finalized after; row is called with each row
 * and its position seq = 1, 2, ... until it returns other than TLY_OK. */
struct tly_sqlog_walk {
	const char *rows_sql;
	const char *earlier_sql;
	sqlite3_stmt **earlier;
	tly_err (*row)(void *ctx, sqlite3_stmt *st, uint64_t seq);
	void *ctx;
	/* Optional: called first, inside the read transaction (to read other
	 * tables in the same snapshot); its error ends the walk. */
	tly_err (*start)(void *ctx, sqlite3 *db);
};

/* Runs walk in one read transaction (a snapshot, even while a writer
 * appends). Returns row's first error, or TLY_EIO when SQLite fails; on
 * TLY_EIO and TLY_ENOMEM why says "cannot read the <noun>: <cause>". */
TLY_MUST tly_err tly_sqlog_walk(sqlite3 *db, const struct tly_sqlog_walk *walk, const char *noun,
                                char *why, size_t why_len);

enum {
	TLY_SQLOG_TIME_BYTES = 32,
};

/* An entry's time (seconds since 1970, UTC) as both logs' listings print
 * it: "2026-12-06T21:15:50Z", or "@seconds" when out of range. */
void tly_sqlog_iso_time(char out[static TLY_SQLOG_TIME_BYTES], uint64_t seconds);

/* One parameter of a statement: an integer, or, when blob is not NULL, a
 * blob of len bytes (borrowed for the call). u64 values are stored by
 * two's-complement reinterpretation, as both logs store them. */
struct tly_sqlog_value {
	const void *blob;
	size_t len;
	sqlite3_int64 integer;
};
struct tly_sqlog_value tly_sqlog_int(uint64_t v);
struct tly_sqlog_value tly_sqlog_blob(const void *blob, size_t len);

/* Prepares sql (an INSERT), binds values[0 .. count) to its parameters
 * 1 .. count and runs it to its end. TLY_EIO when SQLite fails (a
 * constraint included) or a blob is over INT_MAX bytes. */
TLY_MUST tly_err tly_sqlog_insert(sqlite3 *db, const char *sql,
                                  const struct tly_sqlog_value *values, size_t count);

/* sqlite3_exec without callback; the SQLite result code. */
int tly_sqlog_exec(sqlite3 *db, const char *sql);

/* The integer result of a one-row pragma or query; -1 on failure. */
sqlite3_int64 tly_sqlog_query_int(sqlite3 *db, const char *sql);

/* The blob of len bytes in the first column of sql's first row into out,
 * left unchanged when there is no row. TLY_EFORMAT when it is not a blob
 * of len bytes; TLY_EIO. */
TLY_MUST tly_err tly_sqlog_query_blob(sqlite3 *db, const char *sql, uint8_t *out, size_t len);

/* ---- key handovers ----
 *
 * A log whose format has handovers can change its signer's key without
 * starting over: the key_handovers table (append-only like the entries)
 * holds, in order, records signed by BOTH the old key and the new one
 * over tly_sqlog_handover_message: "from entry from_seq on, whose
 * predecessor has hash prev_hash, new_pk signs instead of old_pk". The
 * old key's signature makes the change the holder's decision; the new
 * key's shows its holder accepts it. A verifier starts from the recorded
 * key, applies each handover where its from_seq comes (its prev_hash must
 * be the hash of the entry before, its old_pk the key in force), and so
 * knows which key signs each entry. A file without the table has no
 * handovers; builds before handovers refuse such a file when written
 * with the new key and fail to verify its newer entries (never accept). */
struct tly_sqlog_handover {
	uint64_t from_seq;                       /* the first entry new_pk signs */
	uint64_t time;                           /* seconds since 1970, UTC */
	uint8_t prev_hash[TLY_SQLOG_HASH_BYTES]; /* entry from_seq - 1's; zeros for 1 */
	uint8_t old_pk[TLY_SIGN_PUBLIC_BYTES];
	uint8_t new_pk[TLY_SIGN_PUBLIC_BYTES];
	uint8_t old_signature[TLY_SIGN_BYTES];
	uint8_t new_signature[TLY_SIGN_BYTES];
};

enum {
	/* "tally-key-handover-v1" with its NUL, application_id (be32),
	 * from_seq and time (be64), prev_hash, old_pk, new_pk. */
	TLY_SQLOG_HANDOVER_MESSAGE_BYTES = 22 + 4 + 8 + 8 + 32 + 32 + 32,
};

/* The bytes both keys sign (domain-separated by the format's
 * application_id, so that a ledger's handover is not a log's). */
void tly_sqlog_handover_message(uint8_t out[static TLY_SQLOG_HANDOVER_MESSAGE_BYTES],
                                const struct tly_sqlog_format *f,
                                const struct tly_sqlog_handover *h);

/* tly_sqlog_open for a format with handovers: also current (the key in
 * force, tly_sqlog_current_key). A writer's key must be the key in force
 * (TLY_EAUTH with the format's wrong_key), and the writer adds the
 * key_handovers table to a file that has none. */
TLY_MUST tly_err tly_sqlog_open_handovers(sqlite3 **db,
                                          uint8_t first_pk[static TLY_SIGN_PUBLIC_BYTES],
                                          uint8_t current[static TLY_SIGN_PUBLIC_BYTES],
                                          const char *path, const struct tly_sqlog_format *f,
                                          const struct tly_sign_key *key, char *msg,
                                          size_t msg_len);

/* The key that signs the next entry: the new_pk of the last handover, or
 * first_pk (the recorded key) when there is none. Does not verify the
 * handovers (the verifier does). TLY_EFORMAT for a malformed row, TLY_EIO. */
TLY_MUST tly_err tly_sqlog_current_key(sqlite3 *db,
                                       const uint8_t first_pk[static TLY_SIGN_PUBLIC_BYTES],
                                       uint8_t out[static TLY_SIGN_PUBLIC_BYTES]);

/* Record a handover from old_key (which must be the current key:
 * TLY_EAUTH otherwise) to new_key (TLY_EINVAL when it is the same key),
 * effective from the next entry, in one BEGIN IMMEDIATE transaction (a
 * writer appending meanwhile waits or is refused at its own key check).
 * *out is the record written. msg names the cause on failure. */
TLY_MUST tly_err tly_sqlog_handover_write(sqlite3 *db, const struct tly_sqlog_format *f,
                                          const uint8_t first_pk[static TLY_SIGN_PUBLIC_BYTES],
                                          const struct tly_sign_key *old_key,
                                          const struct tly_sign_key *new_key, uint64_t time,
                                          struct tly_sqlog_handover *out, char *msg,
                                          size_t msg_len);

/* Every handover in the order written: *out (malloc'd, free it; NULL
 * when there are none) and *count. TLY_EFORMAT for a malformed row,
 * TLY_ENOMEM, TLY_EIO. */
TLY_MUST tly_err tly_sqlog_handovers(sqlite3 *db, struct tly_sqlog_handover **out, size_t *count);

/* Check handover h where the verifier stands: entry seq is next, whose
 * predecessor hashes to prev_hash, signed so far by key current. NULL when
 * h is sound; otherwise why not, in words ("its old key is not the key in
 * force", ...). */
const char *tly_sqlog_handover_check(const struct tly_sqlog_handover *h,
                                     const struct tly_sqlog_format *f, uint64_t seq,
                                     const uint8_t prev_hash[static TLY_SQLOG_HASH_BYTES],
                                     const uint8_t current[static TLY_SIGN_PUBLIC_BYTES]);

#endif

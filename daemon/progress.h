/*
 * progress.h - a one-line progress report on stderr for long batch runs of `nerd extract` and
 * `nerd push`: documents, megabytes of text, MB/s and, when the total is known from the sizes of
 * the input files, the share done and an ETA.
 *
 * Shown only when stderr is a terminal and the command was not given --quiet/--no-progress;
 * otherwise progress_new() returns NULL and every other function does nothing, so the callers
 * need no conditions.  The line is redrawn with "\r" at most 4 times a second.
 */
#ifndef NERD_PROGRESS_H
#define NERD_PROGRESS_H

#include <stddef.h>

typedef struct progress progress_t;

/*
 * Starts a report for the inputs of a command (the same paths and jsonl flag given to
 * docsrc_new; count 0 = stdin).  cmd names the command in the line ("push").  Returns NULL when
 * enabled is 0, stderr is not a terminal, or memory is short.  For JSON Lines the documents of
 * regular files are counted up front (one quick read), so that the ETA can follow documents.
 */
progress_t *progress_new(const char *cmd, char *const *paths, size_t count, int jsonl,
                         int enabled);

/* Counts one document of text_len bytes; redraws the line if 250 ms have passed. */
void progress_update(progress_t *p, size_t text_len);

/* Erases the line (before something else is written to the terminal); the next update redraws. */
void progress_clear(progress_t *p);

/* Draws the final figures and ends the line, if a line was ever drawn; then frees p. */
void progress_finish(progress_t **p);

#endif /* NERD_PROGRESS_H */

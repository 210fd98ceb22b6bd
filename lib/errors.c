/*
 * errors.c - names and sentences for the NERD_E* codes of nerd.h.
 *
 * The daemon uses the short names for topics and counters and the sentences for logs and
 * error replies, so both must stay stable.
 */
#include "nerd.h"

typedef struct {
    int code;
    const char *name;
    const char *text;
} error_entry_t;

static const error_entry_t error_table[] = {
    {NERD_OK, "ok", "success"},
    {NERD_EINVAL, "invalid", "invalid argument"},
    {NERD_ENOMEM, "nomem", "out of memory"},
    {NERD_EUTF8, "utf8", "the text is not valid UTF-8"},
    {NERD_ETOOBIG, "too_big", "the text is longer than the size limit"},
    {NERD_EENTITIES, "entities", "the document has more entities than the limit allows"},
    {NERD_EMATCHLIMIT, "match_limit", "a pattern hit the PCRE2 match or depth limit"},
    {NERD_ETIMEOUT, "timeout", "the document exceeded its time budget"},
    {NERD_ERULES, "rules", "the rule set could not be loaded"},
    {NERD_EIO, "io", "a file could not be read"},
};

static const error_entry_t *error_find(int code)
{
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
        if (error_table[i].code == code)
            return &error_table[i];
    return NULL;
}

const char *nerd_strerror(int code)
{
    const error_entry_t *e = error_find(code);
    return e ? e->text : "unknown error";
}

const char *nerd_strerror_name(int code)
{
    const error_entry_t *e = error_find(code);
    return e ? e->name : "unknown";
}

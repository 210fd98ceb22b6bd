/*
 * rules.h - the compiled rule set (struct nerd_rules) shared by the loader and the extractor.
 *
 * Loading (rules.c, rules_parse.c, pattern.c) fills this structure once; afterwards it is
 * read-only and shared between worker threads, so nothing in it may change during extraction
 * except the atomic reference count.  All strings live in the set's own arena (pool).
 */
#ifndef NERD_RULES_H
#define NERD_RULES_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdatomic.h>

#include "gate.h"
#include "gazetteer.h"
#include "prefilter.h"
#include "nerd.h"
#include "strbuf.h"

#define RULES_MAX_TYPES 24
#define RULES_FILLER_BYTE 0x1F

enum { RULE_ENTITY, RULE_RELATION, RULE_GAZETTEER };

typedef struct rule_group {
    const char *name;
    uint32_t number;
} rule_group_t;

typedef struct rule {
    int kind;                    /* RULE_ENTITY, RULE_RELATION or RULE_GAZETTEER */
    uint32_t index;              /* position in the set: the last tie-breaker */
    const char *id;              /* "en/person.rules:12 person.appositive" */
    const char *name;
    uint32_t type;               /* entity type index, or relation type index */
    uint32_t phase;
    int priority;
    int nested;
    int caseless;
    int speaker_previous;
    pcre2_code *code;            /* patterns only */
    int jit;                     /* JIT compilation succeeded */
    pcre2_code *anchored;        /* the pattern compiled anchored, tried where start_table and
                                  * prev allow a match to start */
    int anchored_jit;
    uint8_t start_table[256];    /* per byte value, 1 when a match can start with it */
    prefilter_prev_t prev;       /* what can come right before a match */
    prefilter_prev_t prev_word;  /* the same where the match starts with an ASCII word char */
    int gate_bit;                /* bit in the gate's masks (gate.h), -1: the rule has no words */
    int gate_caseless;           /* its words may match a Kelvin sign or long s (prefilter.h) */
    int single_line;             /* no match consumes a '\n' (prefilter_may_cross_lines) */
    int at_capitals;             /* anchored, and every start byte is a capital byte */
    uint32_t span_group;         /* the group named span, 0 for the whole match */
    uint32_t canonical_group;    /* canonical=GROUP, 0 when absent */
    rule_group_t *groups;        /* named groups in number order (relation arguments) */
    size_t group_count;
    nerd_attr_t *attrs;          /* +KEY=VALUE */
    size_t attr_count;
} rule_t;

enum { EXPECT_ENTITY, EXPECT_NO_ENTITY, EXPECT_RELATION };

typedef struct test_arg {
    const char *role, *value;
} test_arg_t;

typedef struct test_expect {
    int kind;
    const char *type;
    const char *text;            /* entity expectations */
    test_arg_t *args;            /* relation expectations */
    size_t arg_count;
} test_expect_t;

typedef struct rule_test {
    const char *where;           /* "dir/file:line" */
    const char *text;
    size_t text_len;
    test_expect_t *expects;
    size_t expect_count;
} rule_test_t;

struct nerd_rules {
    atomic_int refs;
    nerd_arena_t *pool;          /* every string and array below */
    const char *version;
    rule_t *rules;
    size_t rule_count;
    const char *types[RULES_MAX_TYPES];     /* entity types, in order of first use */
    unsigned char type_byte[RULES_MAX_TYPES];
    size_t type_count;
    uint32_t internal_types;     /* bit t: type t is internal (usable in rules, never reported) */
    const char **relation_types;
    size_t relation_type_count;
    size_t phase_count;
    gazetteer_t *gazetteer;
    gate_t *gate;                /* the words of the rules that have some; NULL when none do */
    rule_test_t *tests;
    size_t test_count;
    uint32_t max_captures;       /* largest capture count of any pattern */
    int person_type, org_type, pron_type, loc_type;   /* type indexes, -1 when absent */
};

/* The byte that stands for type index t in the masked text. */
unsigned char rules_type_byte(size_t t);

/* Capital bytes: an upper-case ASCII letter, the lead byte of a multi-byte character, an
 * entity's type byte or the filler.  Most anchored rules (at a name or an entity) can only start
 * at one; the extractor lists them once per masked text for such rules (rule.at_capitals). */
extern const uint8_t rules_capital_bytes[32];

static inline int rules_capital_byte(unsigned char b)
{
    return prefilter_has(rules_capital_bytes, b);   /* inline: the extractor asks of every byte */
}

/* Whether every byte of a start-byte bitmap (prefilter.h) is a capital byte. */
int rules_starts_at_capitals(const uint8_t start_bytes[32]);

#endif

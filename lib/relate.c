/*
 * relate.c - relations: relation patterns over the fully masked text, overlap resolution per
 * relation type, arguments linked to entities, pronouns and implicit speakers resolved.
 *
 * Every named group of a relation pattern is an argument; a group that covers exactly one
 * entity carries that entity's canonical name and its index among the reported entities (-1
 * when its type is internal).  Pronouns (PRON entities used as
 * arguments) take the name of the most recent speaker of an earlier relation, or else of the
 * most recent PERSON before them.  A rule with speaker=previous gets a speaker argument without
 * a span: the speaker of the previous relation of the same type.  Speakers get the name a reader
 * would give them: a one-word PERSON the full name of a person named before it, and "it" or a
 * description such as "the company" the name of the latest organisation (the one that spoke
 * last, nearby, or one whose name has the noun: "the railway"); a description of a person ("the
 * rookie defenceman") is resolved as a pronoun, preferring someone brought in since the latest
 * speaker; "A hockey coach said" takes the name the next sentence opens with; "the RCMP
 * statement" is the RCMP's, and so are "the Civic Action study" and "a study released by Civic
 * Action" where no entity rule took the name, and a later "the study".  A person who opens a
 * sentence after the latest speaker is who a later "he said" (next paragraph) or cue-less quote
 * means; "X said she ..." tells X's class, and
 * a "he" the latest speaker cannot be goes back to the latest earlier speaker who can.
 */
#include "extract.h"
#include "namemap.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARG_UNSET UINT32_MAX

static int relation_found(doc_t *d, const rule_t *rule, const PCRE2_SIZE *ov, void *ctx)
{
    (void)ctx;
    if (ov[1] <= ov[0])
        return 0;
    size_t need = d->rel_arg_count + 2 * rule->group_count;
    if (need > d->rel_arg_cap) {
        size_t cap = d->rel_arg_cap ? 2 * d->rel_arg_cap : 256;
        while (cap < need)
            cap *= 2;
        uint32_t *a = nerd_arena_alloc(d->worker->arena, cap * sizeof(uint32_t));
        if (a == NULL)
            return NERD_ENOMEM;
        if (d->rel_arg_count)
            memcpy(a, d->rel_args, d->rel_arg_count * sizeof(uint32_t));
        d->rel_args = a;
        d->rel_arg_cap = cap;
    }
    span_t s;
    memset(&s, 0, sizeof(s));
    s.start = (uint32_t)ov[0];
    s.end = (uint32_t)ov[1];
    s.rule = rule->index;
    s.priority = rule->priority;
    s.type = (uint16_t)rule->type;
    s.nested = (uint8_t)rule->nested;
    s.aux = (uint32_t)d->rel_arg_count;
    for (size_t g = 0; g < rule->group_count; g++) {
        uint32_t num = rule->groups[g].number;
        int set = ov[2 * num] != PCRE2_UNSET;
        d->rel_args[d->rel_arg_count++] = set ? (uint32_t)ov[2 * num] : ARG_UNSET;
        d->rel_args[d->rel_arg_count++] = set ? (uint32_t)ov[2 * num + 1] : ARG_UNSET;
    }
    return span_vec_push(&d->worker->relations, &s) ? NERD_ENOMEM : 0;
}

static int by_type(const void *pa, const void *pb)
{
    const span_t *a = pa, *b = pb;
    return a->type != b->type ? (a->type < b->type ? -1 : 1) : 0;
}

/* Where a relation sits: the start of its earliest argument, else of its match. */
static uint32_t relation_position(const doc_t *d, const span_t *s, const rule_t *rule)
{
    uint32_t pos = s->start;
    int any = 0;
    for (size_t g = 0; g < rule->group_count; g++) {
        uint32_t a = d->rel_args[s->aux + 2 * g];
        if (a != ARG_UNSET && (!any || a < pos)) {
            pos = a;
            any = 1;
        }
    }
    return pos;
}

/* In the final entities (sorted by start): the index of the first starting at or after pos. */
static size_t final_first_from(const doc_t *d, uint32_t pos)
{
    return extract_first_from(d->final, d->final_count, sizeof(nerd_entity_t),
                              offsetof(nerd_entity_t, start), pos);
}

/* Index of the entity with exactly [s,e) in the final entities, or -1. */
static int32_t entity_exact(const doc_t *d, uint32_t s, uint32_t e)
{
    size_t lo = final_first_from(d, s);
    for (; lo < d->final_count && d->final[lo].start == s; lo++)
        if (d->final[lo].end == e)
            return (int32_t)lo;
    return -1;
}

#define GENDER_MEMORY 64           /* people whose pronoun class is remembered */
#define PRONOUN_LOOKBACK 30        /* PERSON mentions tried before giving up */
#define SPEAKER_MEMORY 6           /* earlier speakers a pronoun may go back to */

/* The class of a pronoun: 'M' (he, him, his), 'F' (she, her), 0 for any other. */
static char pronoun_class(const char *text)
{
    static const char *const male[] = {"he", "him", "his", "himself"};
    static const char *const female[] = {"she", "her", "hers", "herself"};
    char low[16];
    size_t n = 0;
    for (; text[n] && n < sizeof(low) - 1; n++)
        low[n] = (char)((text[n] >= 'A' && text[n] <= 'Z') ? text[n] + 32 : text[n]);
    low[n] = '\0';
    for (size_t k = 0; k < 4; k++) {
        if (strcmp(low, male[k]) == 0)
            return 'M';
        if (strcmp(low, female[k]) == 0)
            return 'F';
    }
    return 0;
}

typedef struct pronouns {
    const doc_t *d;
    uint32_t *persons;           /* indexes of PERSON entities, by start */
    size_t person_count;
    name_map_t parts;            /* the word-bounded heads and tails of their canonical names
                                  * ("Paz Akin" of "Lorena Paz Akin"): the first person's name */
    const char *speaker;         /* canonical of the latest resolved speaker */
    uint32_t speaker_pos;
    struct {
        const char *name;        /* earlier speakers, latest first: who "he" means when */
        uint32_t pos;            /* the latest speaker is a she */
    } past[SPEAKER_MEMORY];
    size_t past_count;
    struct {
        const char *name;        /* a canonical name ... */
        char cls;                /* ... and the pronoun class already resolved to it */
    } known[GENDER_MEMORY];
    size_t known_count;
} pronouns_t;

static char known_class(const pronouns_t *p, const char *name)
{
    for (size_t k = 0; k < p->known_count; k++)
        if (strcmp(p->known[k].name, name) == 0)
            return p->known[k].cls;
    return 0;
}

static void remember_class(pronouns_t *p, const char *name, char cls)
{
    if (cls == 0 || known_class(p, name) != 0 || p->known_count == GENDER_MEMORY)
        return;
    p->known[p->known_count].name = name;
    p->known[p->known_count++].cls = cls;
}

/* Makes name, mentioned at pos, the latest speaker; the one before joins the earlier ones. */
static void set_speaker(pronouns_t *p, const char *name, uint32_t pos)
{
    if (p->speaker && strcmp(p->speaker, name) != 0) {
        size_t k = 0;
        while (k < p->past_count && strcmp(p->past[k].name, p->speaker) != 0)
            k++;
        if (k == p->past_count && p->past_count < SPEAKER_MEMORY)
            p->past_count++;
        if (k == SPEAKER_MEMORY)
            k = SPEAKER_MEMORY - 1;
        for (; k > 0; k--)
            p->past[k] = p->past[k - 1];
        p->past[0].name = p->speaker;
        p->past[0].pos = p->speaker_pos;
    }
    p->speaker = name;
    p->speaker_pos = pos;
}

/* Whether a person already known as the other class rules this one out. */
static int compatible(const pronouns_t *p, const char *name, char cls)
{
    char known = known_class(p, name);
    return cls == 0 || known == 0 || known == cls;
}

/*
 * The pronoun class an honorific right before a mention gives its person: "Mr. Hemming" is a he,
 * "Ms. Ruslim" a she.  News style guides use them on later mentions, exactly where "he said"
 * needs telling two people apart.  0 when there is none.
 */
static char honorific_class(const doc_t *d, const nerd_entity_t *e)
{
    static const struct {
        const char *word;
        char cls;
    } honorifics[] = {{"Mr. ", 'M'}, {"Mr ", 'M'}, {"Mrs. ", 'F'}, {"Mrs ", 'F'},
                      {"Ms. ", 'F'}, {"Ms ", 'F'}, {"Miss ", 'F'}, {"Sir ", 'M'},
                      {"Dame ", 'F'}, {"Lord ", 'M'}, {"Lady ", 'F'}};
    for (size_t k = 0; k < sizeof(honorifics) / sizeof(honorifics[0]); k++) {
        size_t n = strlen(honorifics[k].word);
        if (e->start >= n && memcmp(d->text + e->start - n, honorifics[k].word, n) == 0 &&
            (e->start == n || !isalpha((unsigned char)d->text[e->start - n - 1])))
            return honorifics[k].cls;
    }
    return 0;
}

/* A mention right before 's is a possessor ("Closs's parents"), rarely what he/she means. */
static int possessive(const doc_t *d, const nerd_entity_t *e)
{
    const char *t = d->text + e->end;
    size_t left = d->len - e->end;
    return (left >= 2 && t[0] == '\'' && t[1] == 's') ||
           (left >= 4 && memcmp(t, "\xE2\x80\x99s", 4) == 0);
}

/* Index in p->persons just past the last PERSON starting before pos. */
static size_t persons_before(const pronouns_t *p, uint32_t pos)
{
    size_t lo = 0, hi = p->person_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->d->final[p->persons[mid]].start < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whether a mention opens a sentence or a paragraph: what comes before it (blanks skipped) is
 * the start of the text, a line end, or a sentence end, possibly inside a closing quotation. */
static int opens_sentence(const doc_t *d, const nerd_entity_t *e)
{
    size_t i = e->start;
    while (i > 0 && (d->text[i - 1] == ' ' || d->text[i - 1] == '\t'))
        i--;
    if (i == 0 || d->text[i - 1] == '\n')
        return 1;
    if (i >= 4 && memcmp(d->text + i - 3, "\xE2\x80\x9D", 3) == 0)   /* ” */
        i -= 3;
    else if (d->text[i - 1] == '"')
        i--;
    return i > 0 && (d->text[i - 1] == '.' || d->text[i - 1] == '!' || d->text[i - 1] == '?');
}

/* How many paragraph breaks (runs of line ends) lie between a and b. */
static int paragraphs_between(const doc_t *d, uint32_t a, uint32_t b)
{
    int n = 0;
    for (uint32_t i = a; i < b && i < d->len; i++)
        if (d->text[i] == '\n' && (i == a || d->text[i - 1] != '\n'))
            n++;
    return n;
}

/* Whether a and b lie in one sentence: no sentence end between them. */
static int same_sentence(const doc_t *d, uint32_t a, uint32_t b)
{
    for (uint32_t i = a; i < b && i < d->len; i++)
        if (d->text[i] == '.' || d->text[i] == '!' || d->text[i] == '?' || d->text[i] == '\n')
            return 0;
    return 1;
}

/* Whether the paragraph around pos is a photo caption ("X looks on. ( THE CANADIAN PRESS FILE
 * PHOTO )"): the people it names are pictured, not speaking. */
static int in_caption(const doc_t *d, uint32_t pos)
{
    uint32_t a = pos, b = pos;
    while (a > 0 && d->text[a - 1] != '\n')
        a--;
    while (b < d->len && d->text[b] != '\n')
        b++;
    static const char *const marks[] = {"PHOTO", "Photo )", "photo )", "/THE CANADIAN PRESS",
                                        "/ THE CANADIAN PRESS", "(Photo", "(AP Photo", "Getty Images"};
    for (size_t k = 0; k < sizeof(marks) / sizeof(marks[0]); k++) {
        size_t n = strlen(marks[k]);
        for (uint32_t i = a; i + n <= b; i++)
            if (memcmp(d->text + i, marks[k], n) == 0)
                return 1;
    }
    return 0;
}

/*
 * A person brought in as the subject of a sentence after the latest speaker and before pos, of
 * a class that fits: "Goodwin turned out to the rally. “...,” he said."  News introduces the
 * next speaker this way; the latest such person wins.  NULL when there is none.
 */
static const char *new_subject(const pronouns_t *p, uint32_t after, uint32_t pos, char cls,
                               const char *speaker, int min_paras, uint32_t *where)
{
    for (size_t k = persons_before(p, pos); k > 0; k--) {
        const nerd_entity_t *e = &p->d->final[p->persons[k - 1]];
        int paras = e->start <= after ? 0 : paragraphs_between(p->d, e->start, pos);
        if (e->start <= after || paras > 1)
            break;
        if (opens_sentence(p->d, e) && !possessive(p->d, e) && compatible(p, e->canonical, cls) &&
            (paras >= min_paras || same_sentence(p->d, e->end, pos)) &&
            (speaker == NULL || strcmp(e->canonical, speaker) != 0) && !in_caption(p->d, e->start)) {
            if (where)
                *where = e->start;
            return e->canonical;
        }
    }
    return NULL;
}

/*
 * The canonical name a pronoun of class cls at pos stands for: a person introduced as a
 * sentence's subject since the latest speaker, else the latest speaker, else the most recent
 * PERSON before it (skipping possessors first, and people already known as the other class).
 * NULL when nobody fits.
 */
static const char *resolve_pronoun(const pronouns_t *p, uint32_t pos, char cls, int min_paras)
{
    if (p->speaker && p->speaker_pos <= pos && compatible(p, p->speaker, cls)) {
        const char *other = new_subject(p, p->speaker_pos, pos, cls, p->speaker, min_paras, NULL);
        return other ? other : p->speaker;
    }
    if (p->speaker && p->speaker_pos <= pos && cls != 0) {
        /* the latest speaker is of the other class: a person of this one brought in since,
         * else the latest earlier speaker of this class ("Jayme told police she heard the
         * sirens.  He told detectives ...") */
        const char *other = new_subject(p, p->speaker_pos, pos, cls, p->speaker, min_paras, NULL);
        if (other)
            return other;
        for (size_t k = 0; k < p->past_count; k++)
            if (p->past[k].pos <= pos && known_class(p, p->past[k].name) == cls)
                return p->past[k].name;
    }
    size_t lo = persons_before(p, pos);   /* last PERSON starting before pos */
    size_t stop = lo > PRONOUN_LOOKBACK ? lo - PRONOUN_LOOKBACK : 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = lo; k > stop; k--) {
            const nerd_entity_t *e = &p->d->final[p->persons[k - 1]];
            if ((pass == 1 || !possessive(p->d, e)) && compatible(p, e->canonical, cls))
                return e->canonical;
        }
    return NULL;
}

/*
 * The person a definite description ("the rookie defenceman", "the 26-year-old right wing")
 * before pos stands for.  A writer describes someone anew where the speaker changes, so a person
 * the text has brought in since the latest speaker is meant: the subject of a sentence first,
 * else the latest one mentioned at all ("... when Jones scored. “...,” said the rookie").  Else,
 * as a pronoun, the latest speaker or the latest PERSON.  NULL when nobody fits.
 */
static const char *resolve_description(const pronouns_t *p, uint32_t pos)
{
    if (p->speaker && p->speaker_pos <= pos) {
        const char *other = new_subject(p, p->speaker_pos, pos, 0, p->speaker, 0, NULL);
        if (other)
            return other;
        for (size_t k = persons_before(p, pos); k > 0; k--) {
            const nerd_entity_t *e = &p->d->final[p->persons[k - 1]];
            if (e->start <= p->speaker_pos || paragraphs_between(p->d, e->start, pos) > 1)
                break;
            if (!possessive(p->d, e) && strcmp(e->canonical, p->speaker) != 0 &&
                !in_caption(p->d, e->start))
                return e->canonical;
        }
    }
    return resolve_pronoun(p, pos, 0, 0);
}

/*
 * The full name a short PERSON speaker stands for: "Hemming" (or "Mr. Hemming" given the
 * canonical "Hemming") after "Brian Hemming" is Brian Hemming, the name attribution is scored
 * and read by; so is "Paz Akin" after "Lorena Paz Akin".  Linking usually does this already;
 * this catches the mentions it left alone.  The first earlier PERSON whose canonical name has
 * more words and ends (or starts) with the name wins (as in linking: of two people of one name,
 * the story is about the one it brings in first); NULL when there is none.
 */
static const char *full_name(const pronouns_t *p, const char *word, uint32_t pos)
{
    size_t wn = strlen(word);
    if (wn < 2)
        return NULL;
    /* the first person of the part is the earliest: if it is not before pos, none is */
    const name_entry_t *hit = name_map_get(&p->parts, word, wn);
    return hit && hit->pos < pos ? hit->canonical : NULL;
}

/* Fills p->parts from p->persons: each canonical name's text before and after each of its
 * blanks, for full_name().  One table per document, so that attribution stays linear in the
 * length of a text with many people and statements. */
static int index_name_parts(pronouns_t *p)
{
    const nerd_entity_t *final = p->d->final;
    size_t parts = 0;
    for (size_t k = 0; k < p->person_count; k++)
        for (const char *c = final[p->persons[k]].canonical; *c; c++)
            parts += 2 * (*c == ' ');
    if (name_map_init(p->d->worker->arena, &p->parts, parts) != 0)
        return NERD_ENOMEM;
    for (size_t k = 0; k < p->person_count; k++) {
        const nerd_entity_t *e = &final[p->persons[k]];
        const char *c = e->canonical;
        size_t cn = strlen(c);
        for (size_t s = 0; s < cn; s++) {
            if (c[s] != ' ')
                continue;
            if (s > 0)
                name_map_add_at(&p->parts, c + s + 1, cn - s - 1, c, cn, e->start);
            if (s + 1 < cn)
                name_map_add_at(&p->parts, c, s, c, cn, e->start);
        }
    }
    return 0;
}

/*
 * Whether a speaker that is no entity is a definite description of an organisation named
 * before it: "the company", "The utility", "the federal department".  News names an
 * organisation once and then speaks of it this way, so its statements belong to that name.
 */
static int org_description(const char *text)
{
    static const char *const nouns[] = {
        "company", "firm", "utility", "department", "agency", "ministry", "bank", "railway",
        "railroad", "airline", "carrier", "union", "organization", "organisation", "board",
        "commission", "council", "network", "broadcaster", "newspaper", "league", "club",
        "university", "hospital", "retailer", "manufacturer", "automaker", "insurer", "lender",
        "regulator", "watchdog", "group", "corporation", "charity", "foundation", "institute",
        "party", "station", "publisher", "developer", "operator", "service", "authority"};
    if (!((text[0] == 't' || text[0] == 'T') && strncmp(text + 1, "he ", 3) == 0))
        return 0;
    const char *last = strrchr(text, ' ') + 1;
    int words = 0;
    for (const char *q = text; *q; q++)
        if (*q == ' ')
            words++;
    if (words > 2)
        return 0;
    for (size_t k = 0; k < sizeof(nouns) / sizeof(nouns[0]); k++)
        if (strcmp(last, nouns[k]) == 0)
            return 1;
    return 0;
}

static int document_noun(const char *w, size_t n);

/* The document noun a speaker is headed by, or NULL: its last word ("the white paper"), or a
 * word among its first four after a determiner ("a study which is being released Monday by
 * Civic Action", "the memo obtained by ..."); *len gets its length. */
static const char *document_head(const char *text, size_t *len)
{
    const char *last = strrchr(text, ' ');
    last = last != NULL ? last + 1 : text;
    if (document_noun(last, strlen(last))) {
        *len = strlen(last);
        return last;
    }
    if (!(strncmp(text, "a ", 2) == 0 || strncmp(text, "A ", 2) == 0 || strncmp(text, "an ", 3) == 0 ||
          strncmp(text, "An ", 3) == 0 || strncmp(text, "the ", 4) == 0 || strncmp(text, "The ", 4) == 0))
        return NULL;
    const char *w = strchr(text, ' ') + 1;
    for (int k = 0; k < 3 && *w; k++) {
        size_t n = strcspn(w, " ");
        if (document_noun(w, n) && w[n] == ' ') {
            *len = n;
            return w;
        }
        if (w[n] == '\0')
            break;
        w += n + 1;
    }
    return NULL;
}

/* Whether text ends with a noun for a text or a finding, which speaks but is nobody: "the
 * document", "the white paper", "the survey". */
static int document_description(const char *text)
{
    size_t n;
    return document_head(text, &n) != NULL;
}

static int document_noun(const char *w, size_t n)
{
    static const char *const nouns[] = {
        "document", "paper", "report", "study", "survey", "poll", "statement", "letter",
        "memo", "filing", "complaint", "lawsuit", "ruling", "decision", "order", "bill", "law",
        "plan", "proposal", "agreement", "deal", "review", "audit", "analysis", "research",
        "data", "figures", "findings", "book", "article", "website", "post", "message", "email",
        "release", "announcement", "policy", "strategy", "note", "notice", "guidance", "rules",
        "regulation", "directive", "indictment", "verdict", "judgment", "judgement", "court",
        "index", "model", "forecast", "estimate", "video", "footage", "map", "chart", "list"};
    for (size_t k = 0; k < sizeof(nouns) / sizeof(nouns[0]); k++)
        if (strlen(nouns[k]) == n && memcmp(w, nouns[k], n) == 0)
            return 1;
    return 0;
}

/*
 * Whether a speaker that is no entity is a definite description of a person, "the 39-year-old
 * founder", "the rookie defenceman": "the" and lower-case words, not an organisation's nor a
 * document's ("the white paper").  Such a speaker is someone the text has named, and is
 * resolved as a pronoun is.
 */
static int person_description_after(const char *text, size_t skip);

static int person_description(const char *text)
{
    if (!((text[0] == 't' || text[0] == 'T') && strncmp(text + 1, "he ", 3) == 0))
        return 0;
    return person_description_after(text, 4);
}

/* Whether a speaker is an indefinite description of a person: "A Vancouver hockey coach",
 * "One former director" (not "A spokeswoman for Lee", which names whom it speaks for). */
static int indefinite_description(const char *text)
{
    size_t skip = strncmp(text, "A ", 2) == 0 ? 2 : strncmp(text, "An ", 3) == 0 ? 3 :
                  strncmp(text, "One ", 4) == 0 ? 4 : 0;
    return skip != 0 && person_description_after(text, skip);
}

/* Whether the words of text from skip on describe a person (see person_description). */
static int person_description_after(const char *text, size_t skip)
{
    static const char *const groups[] = {
        "government", "administration", "campaign", "team", "police", "committee", "office",
        "force", "forces", "army", "military", "navy", "senate", "house", "legislature",
        "parliament", "province", "city", "state", "country", "region", "county", "town",
        "community", "industry", "sector", "market", "public", "media", "press", "family",
        "people", "residents", "officials", "authorities", "members", "players", "fans"};
    /* capitalised words may qualify the person ("the laid-back Cambridge resident"); the noun
     * at the end is lower case */
    const char *last = strrchr(text, ' ') + 1;
    for (const char *q = text + skip; *q; q++) {
        if (q == last || (q > text && q[-1] == ' ' && q < last && isupper((unsigned char)*q)))
            continue;
        if ((unsigned char)*q < 0x80 && !(islower((unsigned char)*q) || isdigit((unsigned char)*q) ||
                                          *q == ' ' || *q == '-' || *q == '\''))
            return 0;
    }
    if (!islower((unsigned char)*last))
        return 0;
    for (size_t k = 0; k < sizeof(groups) / sizeof(groups[0]); k++)
        if (strcmp(last, groups[k]) == 0)
            return 0;
    return !org_description(text) && !document_description(text);
}

#define DOC_MEMORY_PARAS 8         /* paragraphs a document's author is remembered over */
#define ORG_LOOKBACK 60            /* entities looked at for the organisation a description means */

/* Whether an organisation is a news agency: credited in bylines and captions ("The Canadian
 * Press"), it is not what "the company" or "it" refers to. */
static int news_agency(const char *name)
{
    static const char *const agencies[] = {
        "Canadian Press", "The Canadian Press", "Associated Press", "The Associated Press", "AP",
        "Reuters", "Thomson Reuters", "AFP", "Agence France-Presse", "Bloomberg News", "UPI",
        "Press Association", "PA Media", "dpa"};
    for (size_t k = 0; k < sizeof(agencies) / sizeof(agencies[0]); k++)
        if (strcmp(name, agencies[k]) == 0)
            return 1;
    return 0;
}

/* Whether name contains word, ignoring case. */
static int contains_word(const char *name, const char *word)
{
    size_t n = strlen(word);
    for (const char *q = name; *q; q++)
        if ((q == name || q[-1] == ' ') && strncasecmp(q, word, n) == 0 &&
            (q[n] == '\0' || q[n] == ' '))
            return 1;
    return 0;
}

/*
 * The canonical name of the latest ORG entity before pos that a description ending in noun
 * ("the railway") can mean: one whose name has that noun ("Canadian Pacific Railway") first,
 * else the latest that is no news agency.  NULL when there is none.
 */
static const char *recent_org(const doc_t *d, uint32_t pos, const char *noun)
{
    if (d->rules->org_type < 0)
        return NULL;
    const char *org = d->rules->types[d->rules->org_type];
    size_t lo = final_first_from(d, pos);
    size_t stop = lo > ORG_LOOKBACK ? lo - ORG_LOOKBACK : 0;
    if (noun != NULL)
        for (size_t k = lo; k > stop; k--)
            if (d->final[k - 1].type == org && contains_word(d->final[k - 1].canonical, noun))
                return d->final[k - 1].canonical;
    for (size_t k = lo; k > stop; k--)
        if (d->final[k - 1].type == org && !news_agency(d->final[k - 1].canonical))
            return d->final[k - 1].canonical;
    return NULL;
}

/*
 * The organisation or person a document speaker names inside it: "the RCMP statement", "the
 * Civic Action study", "a report released Monday by the agency's board", "Foster's book".  The
 * words of a document are its author's, so the statement is theirs.  The last such entity in
 * [a,b) wins (the author follows "by"); NULL when there is none.
 */
static const nerd_entity_t *document_author(const doc_t *d, uint32_t a, uint32_t b)
{
    const char *org = d->rules->org_type >= 0 ? d->rules->types[d->rules->org_type] : NULL;
    const char *person = d->rules->person_type >= 0 ? d->rules->types[d->rules->person_type] : NULL;
    size_t lo = final_first_from(d, a);
    const nerd_entity_t *found = NULL;
    for (; lo < d->final_count && d->final[lo].start < b; lo++)
        if (d->final[lo].end <= b && (d->final[lo].type == org || d->final[lo].type == person))
            found = &d->final[lo];
    return found;
}

/* Whether w (n bytes) is a capitalised word: an upper-case ASCII letter first, or a letter
 * outside ASCII (taken as one). */
static int cap_word(const char *w, size_t n)
{
    return n > 0 && (isupper((unsigned char)w[0]) || (unsigned char)w[0] >= 0x80);
}

/*
 * The author a document speaker names in words no entity rule took: the capitalised words after
 * "by" ("a study released Monday by Civic Action"), else those between the determiner and the
 * head noun ("the Civic Action study", "the Sensei website").  An arena copy, or NULL.
 */
static const char *document_author_words(doc_t *d, const char *text)
{
    size_t hn;
    const char *head = document_head(text, &hn);
    if (head == NULL)
        return NULL;
    const char *a = NULL, *b = NULL;
    const char *by = strstr(head, " by ");
    static const char *const not_author[] = {"obtained", "seen", "reviewed", "viewed", "cited",
                                             "quoted", "reported", "received", "leaked"};
    for (size_t k = 0; by != NULL && k < sizeof(not_author) / sizeof(not_author[0]); k++) {
        size_t n = strlen(not_author[k]);
        if ((size_t)(by - head) >= n && memcmp(by - n, not_author[k], n) == 0)
            return NULL;   /* "the memo obtained by The Globe": the paper did not write it */
    }
    if (by != NULL) {
        a = by + 4;
        b = a;
        while (*b) {
            size_t n = strcspn(b, " ");
            if (!cap_word(b, n) && !(b > a && (strncmp(b, "of ", 3) == 0 || strncmp(b, "and ", 4) == 0)))
                break;
            b += n;
            if (*b == ' ')
                b++;
        }
        while (b > a && (b[-1] == ' '))
            b--;
        /* a trailing "of" or "and" is no part of the name */
        while (b > a && (strncmp(b - 3, " of", 3) == 0 || strncmp(b - 4, " and", 4) == 0))
            b -= b[-1] == 'f' ? 3 : 4;
    } else {
        const char *sp = strchr(text, ' ');
        if (sp == NULL || sp + 1 >= head)
            return NULL;
        a = sp + 1;
        b = head - 1;
        for (const char *w = a; w < b;) {
            size_t n = strcspn(w, " ");
            if (!cap_word(w, n))
                return NULL;
            w += n + 1;
        }
    }
    if (a == NULL || b <= a)
        return NULL;
    return nerd_arena_strndup(d->worker->arena, a, (size_t)(b - a));
}

/* Whether a speaker is someone's spokesperson left unnamed: "A spokeswoman for Lee", "An aide
 * to the mayor" (a named person of the text may be who it is, see named_after_cue). */
static int spokes_description(const char *text)
{
    static const char *const roles[] = {" spokeswoman ", " spokesman ", " spokesperson ",
                                        " representative ", " aide ", " adviser ", " advisor "};
    if (!(strncmp(text, "A ", 2) == 0 || strncmp(text, "An ", 3) == 0))
        return 0;
    for (size_t k = 0; k < sizeof(roles) / sizeof(roles[0]); k++) {
        const char *r = strstr(text, roles[k]);
        if (r != NULL && r - text <= 24 &&
            (strncmp(r + strlen(roles[k]), "for ", 4) == 0 || strncmp(r + strlen(roles[k]), "to ", 3) == 0))
            return 1;
    }
    return 0;
}

/* Whether a PERSON mention is named right after a cue, as the speaker of a quotation: "“...,”
 * said Jo Lee." */
static int named_after_cue(const doc_t *d, const nerd_entity_t *e)
{
    static const char *const cues[] = {"said ", "says ", "added ", "adds "};
    for (size_t k = 0; k < sizeof(cues) / sizeof(cues[0]); k++) {
        size_t n = strlen(cues[k]);
        if (e->start >= n + 1 && memcmp(d->text + e->start - n, cues[k], n) == 0 &&
            d->text[e->start - n - 1] == ' ')
            return 1;
    }
    return 0;
}

/*
 * The person an indefinite description ("A Vancouver hockey coach says ...") introduces: news
 * names such a speaker in the sentence after ("Stephen Gillis said ..."), as its subject.  The
 * first PERSON opening a sentence after relation s, in its paragraph or the next; NULL if none.
 * With after_cue, the first one named right after a cue instead ("A spokeswoman for Lee said
 * ...  “...,” said Jo Doe."): a spokesperson is named as the speaker of the quotation.
 */
static const char *named_next(const pronouns_t *p, const span_t *s, const rule_t *rule, int after_cue)
{
    uint32_t end = s->end;
    for (size_t g = 0; g < rule->group_count; g++) {
        uint32_t b = p->d->rel_args[s->aux + 2 * g + 1];
        if (b != ARG_UNSET && b > end)
            end = b;
    }
    for (size_t k = persons_before(p, end); k < p->person_count; k++) {
        const nerd_entity_t *e = &p->d->final[p->persons[k]];
        if (paragraphs_between(p->d, end, e->start) > 1)
            break;
        if (after_cue ? named_after_cue(p->d, e) : opens_sentence(p->d, e) && !possessive(p->d, e))
            return e->canonical;
    }
    return NULL;
}

/* Fills the arguments of relation s (rule) into out; returns their number. */
static size_t build_args(doc_t *d, const span_t *s, const rule_t *rule, nerd_arg_t *out, int *bad)
{
    size_t n = 0;
    for (size_t g = 0; g < rule->group_count; g++) {
        uint32_t a = d->rel_args[s->aux + 2 * g], b = d->rel_args[s->aux + 2 * g + 1];
        if (a == ARG_UNSET)
            continue;
        nerd_arg_t *arg = &out[n++];
        arg->role = rule->groups[g].name;
        arg->has_span = 1;
        arg->start = a;
        arg->end = b;
        arg->text = nerd_arena_strndup(d->worker->arena, d->text + a, b - a);
        if (arg->text == NULL)
            *bad = 1;
        arg->entity = entity_exact(d, a, b);
        arg->canonical = arg->entity >= 0 ? d->final[arg->entity].canonical : NULL;
    }
    return n;
}

static int by_position(const void *pa, const void *pb)
{
    const span_t *a = pa, *b = pb;
    /* aux2 is kept in priority (unused after resolution) */
    if (a->priority != b->priority)
        return (uint32_t)a->priority < (uint32_t)b->priority ? -1 : 1;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->rule < b->rule ? -1 : a->rule > b->rule;
}

/* Resolves overlaps per relation type; returns the winners' count, moved to the front. */
static long resolve_relations(doc_t *d)
{
    span_vec_t *rels = &d->worker->relations;
    if (rels->count == 0)
        return 0;
    qsort(rels->items, rels->count, sizeof(span_t), by_type);
    uint32_t *win = nerd_arena_alloc(d->worker->arena, rels->count * sizeof(uint32_t));
    span_t *kept = nerd_arena_alloc(d->worker->arena, rels->count * sizeof(span_t));
    if (win == NULL || kept == NULL)
        return -1;
    size_t nk = 0;
    for (size_t lo = 0; lo < rels->count;) {
        size_t hi = lo;
        while (hi < rels->count && rels->items[hi].type == rels->items[lo].type)
            hi++;
        long nw = resolve_spans(d, rels->items + lo, hi - lo, win, 1);
        if (nw < 0)
            return -1;
        for (long k = 0; k < nw; k++)
            kept[nk++] = rels->items[lo + win[k]];
        lo = hi;
    }
    memcpy(rels->items, kept, nk * sizeof(span_t));
    rels->count = nk;
    /* sort by position; the position goes in the priority field, no longer needed */
    for (size_t k = 0; k < nk; k++) {
        span_t *s = &rels->items[k];
        s->priority = (int32_t)relation_position(d, s, &d->rules->rules[s->rule]);
    }
    qsort(rels->items, nk, sizeof(span_t), by_position);
    return (long)nk;
}

static int collect_persons(doc_t *d, pronouns_t *p)
{
    memset(p, 0, sizeof(*p));
    p->d = d;
    p->persons = nerd_arena_alloc(d->worker->arena, (d->final_count + 1) * sizeof(uint32_t));
    if (p->persons == NULL)
        return NERD_ENOMEM;
    const char *person = d->rules->person_type >= 0 ? d->rules->types[d->rules->person_type] : NULL;
    for (size_t k = 0; k < d->final_count; k++)
        if (person && d->final[k].type == person) {
            p->persons[p->person_count++] = (uint32_t)k;
            remember_class(p, d->final[k].canonical, honorific_class(d, &d->final[k]));
        }
    return index_name_parts(p);
}

/* The argument named role of relation r, or NULL. */
static const nerd_arg_t *rel_arg(const nerd_relation_t *r, const char *role)
{
    for (size_t a = 0; a < r->arg_count; a++)
        if (strcmp(r->args[a].role, role) == 0)
            return &r->args[a];
    return NULL;
}

/* The name a speaker argument stands for: its canonical name, else its text. */
static const char *speaker_name(const nerd_arg_t *a)
{
    return a == NULL ? NULL : a->canonical ? a->canonical : a->text;
}

#define DEDUP_WINDOW 24             /* relations before and after one that can be its pieces */

/* Whether a relation has the attribute direct=true (a quotation). */
static int is_direct(const nerd_relation_t *r)
{
    for (size_t a = 0; a < r->attr_count; a++)
        if (strcmp(r->attrs[a].key, "direct") == 0 && strcmp(r->attrs[a].value, "true") == 0)
            return 1;
    return 0;
}

/* Whether a relation's content holds its own cue and, after it, its speaker's mention: a
 * quotation split by "said Lee" ("“A,” said Lee, a lawyer. “B.”"). */
static int speaker_after_cue_inside(const nerd_relation_t *r)
{
    const nerd_arg_t *c = rel_arg(r, "content");
    const nerd_arg_t *cue = rel_arg(r, "cue");
    const nerd_arg_t *spk = rel_arg(r, "speaker");
    if (c == NULL || cue == NULL || spk == NULL || !c->has_span || !cue->has_span || !spk->has_span ||
        speaker_name(spk) == NULL)
        return 0;
    return cue->start > c->start && cue->end <= spk->start && spk->end < c->end;
}

/*
 * Whether b is a statement of a's type whose content lies strictly inside a's, both with a
 * content span and a speaker; *same_speaker says whether the two speakers are one.
 */
static int content_inside(const nerd_relation_t *a, const nerd_relation_t *b, int *same_speaker)
{
    const nerd_arg_t *ca = rel_arg(a, "content"), *cb = rel_arg(b, "content");
    const char *sa = speaker_name(rel_arg(a, "speaker"));
    const char *sb = speaker_name(rel_arg(b, "speaker"));
    if (ca == NULL || cb == NULL || !ca->has_span || !cb->has_span || sa == NULL || sb == NULL ||
        strcmp(a->type, b->type) != 0)
        return 0;
    *same_speaker = strcmp(sa, sb) == 0;
    return cb->start >= ca->start && cb->end <= ca->end &&
           cb->end - cb->start < ca->end - ca->start;
}

static uint32_t content_length(const nerd_relation_t *r)
{
    const nerd_arg_t *c = rel_arg(r, "content");
    return c->end - c->start;
}

/* Marks for dropping the statements near out[i] (DEDUP_WINDOW) whose content lies inside
 * out[i]'s and whose speaker is (same = 1) or is not (same = 0) out[i]'s. */
static void drop_inside(const nerd_relation_t *out, size_t n, unsigned char *drop, size_t i,
                        int same)
{
    size_t lo = i > DEDUP_WINDOW ? i - DEDUP_WINDOW : 0;
    size_t hi = i + DEDUP_WINDOW < n ? i + DEDUP_WINDOW : n;
    for (size_t j = lo; j < hi; j++) {
        int same_speaker;
        if (j != i && !drop[j] && content_inside(&out[i], &out[j], &same_speaker) &&
            same_speaker == same)
            drop[j] = 1;
    }
}

/*
 * Drops a statement that only stretches another one of the same speaker: its content contains
 * the other's, and the other's is at least half of it.  A quotation in two pieces around its
 * cue ("“A,” she said. “B.”") is reported both as the stretch (the way attribution corpora
 * annotate it) and as the pieces (the way quote corpora do); where the first piece is most of
 * the stretch, the stretch says nothing the piece does not, and is left out.  Where the cue
 * comes before the name inside the stretch ("“A,” said Lee, a lawyer. “B.”", the layout that
 * introduces a speaker with a description), the stretch is kept and its pieces are left out.
 * A statement of another speaker inside a quotation (direct=true) is left out too.  Relations
 * stay in order; returns the new count.
 */
static size_t drop_stretches(nerd_arena_t *arena, nerd_relation_t *out, size_t n)
{
    unsigned char *drop = n ? nerd_arena_alloc(arena, n) : NULL;
    if (drop == NULL)
        return n;   /* keeping a duplicate is harmless */
    memset(drop, 0, n);
    /* a stretch whose piece of the same speaker is at least half of it */
    for (size_t i = 0; i < n; i++) {
        size_t lo = i > DEDUP_WINDOW ? i - DEDUP_WINDOW : 0;
        size_t hi = i + DEDUP_WINDOW < n ? i + DEDUP_WINDOW : n;
        for (size_t j = lo; j < hi && !drop[i]; j++) {
            int same;
            if (j != i && !drop[j] && content_inside(&out[i], &out[j], &same) && same &&
                2 * content_length(&out[j]) >= content_length(&out[i]))
                drop[i] = 1;
        }
    }
    /* a stretch that names its speaker after the cue ("“A,” said Lee, a lawyer for the town.
     * “B.”") is kept instead of its pieces: news attribution gives such a stretch as one
     * statement, and a piece inside it is then a second report of the same words */
    for (size_t i = 0; i < n; i++)
        if (!drop[i] && speaker_after_cue_inside(&out[i]))
            drop_inside(out, n, drop, i, 1);
    /* someone else's statement inside a quotation is part of the quoted words ("“They said
     * he was unfit,” Lee said"): the writer attributes only the quotation */
    for (size_t i = 0; i < n; i++)
        if (!drop[i] && is_direct(&out[i]))
            drop_inside(out, n, drop, i, 0);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (!drop[i])
            out[o++] = out[i];
    return o;
}

/* The content argument among args, or NULL. */
static const nerd_arg_t *rel_content(const nerd_arg_t *args, size_t na)
{
    for (size_t a = 0; a < na; a++)
        if (strcmp(args[a].role, "content") == 0)
            return &args[a];
    return NULL;
}

/*
 * Reported speech whose content opens with "he" or "she" ("Jayme told police she could hear the
 * sirens", "Young said that he suspects ...") nearly always speaks of its speaker: the speaker is
 * remembered as of that class, so that a later "he said" does not go to her.
 */
static void learn_class(pronouns_t *p, const char *name, const nerd_arg_t *content)
{
    if (content == NULL || content->text == NULL)
        return;
    const char *t = content->text;
    if (strncmp(t, "that ", 5) == 0)
        t += 5;
    if (strncmp(t, "he ", 3) == 0 || strncmp(t, "He ", 3) == 0)
        remember_class(p, name, 'M');
    else if (strncmp(t, "she ", 4) == 0 || strncmp(t, "She ", 4) == 0)
        remember_class(p, name, 'F');
}

int relate_run(doc_t *d)
{
    const nerd_rules_t *rules = d->rules;
    nerd_worker_t *w = d->worker;
    for (size_t r = 0; r < rules->rule_count; r++) {
        if (rules->rules[r].kind != RULE_RELATION)
            continue;
        int rc = extract_check_time(d);
        if (rc == 0)
            rc = extract_run_pattern(d, &rules->rules[r], relation_found, NULL);
        if (rc)
            return rc;
    }
    long n = resolve_relations(d);
    if (n < 0)
        return NERD_ENOMEM;
    if (n == 0)
        return 0;
    pronouns_t pr;
    nerd_relation_t *out = nerd_arena_alloc(w->arena, (size_t)n * sizeof(nerd_relation_t));
    const char **prev = nerd_arena_alloc(w->arena, (rules->relation_type_count + 1) * sizeof(char *));
    if (out == NULL || prev == NULL || collect_persons(d, &pr) != 0)
        return NERD_ENOMEM;
    uint32_t *prev_end = nerd_arena_alloc(w->arena, (rules->relation_type_count + 1) * sizeof(uint32_t));
    if (prev_end == NULL)
        return NERD_ENOMEM;
    memset(prev, 0, (rules->relation_type_count + 1) * sizeof(char *));
    memset(prev_end, 0, (rules->relation_type_count + 1) * sizeof(uint32_t));
    const char *pron = rules->pron_type >= 0 ? rules->types[rules->pron_type] : NULL;
    const char *person = rules->person_type >= 0 ? rules->types[rules->person_type] : NULL;
    const char *org = rules->org_type >= 0 ? rules->types[rules->org_type] : NULL;
    const char *org_speaker = NULL;   /* the latest organisation that spoke, and where */
    uint32_t org_speaker_pos = 0;
    struct {
        const char *author;          /* the latest document speaker with a named author ... */
        const char *noun;            /* ... its head noun ("study") ... */
        size_t noun_len;
        uint32_t pos;                /* ... and where it was */
    } doc = {NULL, NULL, 0, 0};
    size_t o = 0;
    for (long k = 0; k < n; k++) {
        const span_t *s = &w->relations.items[k];
        const rule_t *rule = &rules->rules[s->rule];
        nerd_arg_t *args = nerd_arena_alloc(w->arena, (rule->group_count + 1) * sizeof(nerd_arg_t));
        if (args == NULL)
            return NERD_ENOMEM;
        memset(args, 0, (rule->group_count + 1) * sizeof(nerd_arg_t));
        int bad = 0;
        size_t na = build_args(d, s, rule, args, &bad);
        if (bad)
            return NERD_ENOMEM;
        const nerd_arg_t *speaker = NULL;
        for (size_t a = 0; a < na; a++) {
            nerd_arg_t *arg = &args[a];
            if (arg->entity >= 0 && pron && d->final[arg->entity].type == pron) {
                char cls = pronoun_class(arg->text);
                const char *who = resolve_pronoun(&pr, arg->start, cls, 1);
                if (who) {
                    const char *full = full_name(&pr, who, arg->start);
                    if (full)
                        who = full;
                    remember_class(&pr, who, cls);
                    arg->canonical = who;
                    d->final[arg->entity].canonical = who;
                }
            }
            if (strcmp(arg->role, "speaker") == 0) {
                speaker = arg;
                const char *full = NULL;
                if (arg->entity >= 0 && d->final[arg->entity].type == person && arg->canonical)
                    full = full_name(&pr, arg->canonical, arg->start);
                else if (arg->entity < 0 && arg->text &&
                         (org_description(arg->text) || strcmp(arg->text, "it") == 0 ||
                          strcmp(arg->text, "It") == 0))
                {
                    const char *noun = org_description(arg->text) ? strrchr(arg->text, ' ') + 1 : NULL;
                    full = recent_org(d, arg->start, noun);
                    /* the organisation that spoke last, nearby, before another one merely
                     * mentioned since ("Google said Apple had revoked it ... the company said") */
                    if (org_speaker != NULL && paragraphs_between(d, org_speaker_pos, arg->start) <= 2 &&
                        (noun == NULL || full == NULL || !contains_word(full, noun) ||
                         contains_word(org_speaker, noun)))
                        full = org_speaker;
                    if (full != NULL) {
                        org_speaker = full;
                        org_speaker_pos = arg->start;
                    }
                }
                else if (arg->entity < 0 && arg->text && document_description(arg->text) &&
                         document_author(d, arg->start, arg->end) != NULL) {
                    const nerd_entity_t *e = document_author(d, arg->start, arg->end);
                    full = e->type == person ? full_name(&pr, e->canonical, arg->start) : NULL;
                    if (full == NULL)
                        full = e->canonical;
                    doc.author = full;
                    doc.noun = document_head(arg->text, &doc.noun_len);
                    doc.pos = arg->start;
                }
                else if (arg->entity < 0 && arg->text && document_description(arg->text) &&
                         document_author_words(d, arg->text) != NULL) {
                    full = document_author_words(d, arg->text);
                    doc.author = full;
                    doc.noun = document_head(arg->text, &doc.noun_len);
                    doc.pos = arg->start;
                }
                else if (arg->entity < 0 && arg->text && doc.author != NULL &&
                         (arg->text[0] == 't' || arg->text[0] == 'T') &&
                         strncmp(arg->text + 1, "he ", 3) == 0 &&
                         paragraphs_between(d, doc.pos, arg->start) <= DOC_MEMORY_PARAS) {
                    /* "the study" after "the Civic Action study": the same document's author */
                    size_t len;
                    const char *noun = document_head(arg->text, &len);
                    if (noun != NULL && len == doc.noun_len && memcmp(noun, doc.noun, len) == 0)
                        full = doc.author;
                }
                else if (arg->entity < 0 && arg->text &&
                         (spokes_description(arg->text) || indefinite_description(arg->text))) {
                    if (spokes_description(arg->text))
                        full = named_next(&pr, s, rule, 1);
                    if (full == NULL && indefinite_description(arg->text))
                        full = named_next(&pr, s, rule, 0);
                }
                else if (arg->entity < 0 && arg->text && person_description(arg->text))
                    full = resolve_description(&pr, (uint32_t)s->priority);
                else if (arg->entity < 0 && arg->text && pronoun_class(arg->text) != 0)
                    /* a pronoun no entity rule marked: "his" in "his claim that ..." */
                    full = resolve_pronoun(&pr, arg->start, pronoun_class(arg->text), 1);
                if (full)
                    arg->canonical = full;
            }
        }
        if (rule->speaker_previous && speaker == NULL) {
            if (prev[s->type] == NULL)
                continue;   /* nobody spoke before: the relation has no speaker */
            /* a person who became a sentence's subject since that relation speaks now, and
             * is the speaker a later "she said" means */
            uint32_t subject_pos = 0;
            const char *other = new_subject(&pr, prev_end[s->type], (uint32_t)s->priority, 0,
                                            prev[s->type], 0, &subject_pos);
            nerd_arg_t *arg = &args[na++];
            arg->role = "speaker";
            arg->has_span = 0;
            arg->canonical = other ? other : prev[s->type];
            if (other) {
                set_speaker(&pr, other, subject_pos);
            }
            arg->entity = -1;
            speaker = arg;
        }
        if (speaker && speaker->canonical && speaker->entity >= 0 &&
            d->final[speaker->entity].type == person)
            learn_class(&pr, speaker->canonical, rel_content(args, na));
        if (speaker && speaker->canonical && speaker->has_span && speaker->entity >= 0 && org &&
            d->final[speaker->entity].type == org && !news_agency(speaker->canonical)) {
            org_speaker = speaker->canonical;
            org_speaker_pos = speaker->start;
        }
        if (speaker && speaker->canonical) {
            prev[s->type] = speaker->canonical;
            prev_end[s->type] = s->end;
            for (size_t a = 0; a < na; a++)
                if (args[a].has_span && args[a].end > prev_end[s->type])
                    prev_end[s->type] = args[a].end;
            /* only people are what a later "he" or "she" can refer to */
            const char *type = speaker->entity >= 0 ? d->final[speaker->entity].type : NULL;
            if (speaker->has_span && type && (type == person || type == pron)) {
                set_speaker(&pr, speaker->canonical, speaker->start);
            }
        }
        /* arguments point into the reported entities; an internal one keeps only its span */
        for (size_t a = 0; a < na; a++)
            if (args[a].entity >= 0)
                args[a].entity = d->public_index[args[a].entity];
        nerd_relation_t *rel = &out[o++];
        rel->type = rules->relation_types[s->type];
        rel->args = args;
        rel->arg_count = na;
        rel->attrs = rule->attrs;
        rel->attr_count = rule->attr_count;
        rel->rule = rule->id;
    }
    d->result->relations = out;
    d->result->relation_count = drop_stretches(w->arena, out, o);
    return 0;
}

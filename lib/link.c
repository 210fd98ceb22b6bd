/*
 * link.c - linking: the canonical name of every mention, and mentions found only by linking.
 *
 * One walk over the tokens and the entities together, in text order:
 *   - a PERSON of two or more words registers its first and last word ("Lai" of
 *     "Lai Chun-chang"), the first person of a word keeping it (the one the story is about); a
 *     later one-word PERSON with that text, or a bare capitalised word
 *     outside any entity, gets (or becomes a PERSON with) the full name; words of entities of
 *     internal types (a surname from a list, ...) count as bare, and the mention replaces them;
 *     a PERSON whose canonical name is a part of its text ("Mr. Lai" -> "Lai") counts by that
 *     part; a bare mention takes in the words before it that the full name has there
 *     ("De Vos"), or the rest of the full name after it, places included ("Kevin Taipei");
 *     "the" and the plural of a one-word PERSON or of the last word of a full name ("the
 *     Clintons") is a PERSON too, the family;
 *   - two capitalised words that no entity rule took but that introduce someone ("Will Young, a
 *     mechanic"; or a given name of the lists and a word) name the person a later one-word
 *     PERSON "Young" that nothing else backs stands for;
 *   - words of lines in capitals ("RUGBY - GREEN TO LEAD SIDE") link to every full name of the
 *     text, even one named after them (headlines come before their story);
 *   - an ORG followed by a bracketed all-capitals word ("Chinese Communist Party's (CCP)")
 *     registers that acronym; it and every later use become the ORG's canonical name; so do
 *     the initials of an ORG of three or more words anywhere in the text ("CRA" of "Canada
 *     Revenue Agency"), for ORGs and bare words in capitals that stand on their own;
 *   - a PERSON that no full name, title or linking backs and whose text is an ORG of the text,
 *     or the short name of a company of the text ("Ruch" of "Ruch SA"), becomes that ORG;
 *   - otherwise the canonical name stays unset, meaning the text with blanks made single
 *     (filled in when the result is built).
 * The name tables are small open-addressing hashes in the document arena.
 */
#include "extract.h"
#include "namemap.h"
#include "utf8.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define LINK_MAX_WORD_TOKENS 8

typedef struct linker {
    doc_t *d;
    name_map_t people, acronyms;
    name_map_t caps;             /* words of every full name in the text, in capitals */
    name_map_t family;           /* one-word PERSON names and last words of full names */
    name_map_t orgs;             /* texts of the ORGs of the text, and their short forms */
    name_map_t initials;         /* "CRA" -> "Canada Revenue Agency", from the ORGs of the text */
    name_map_t intro;            /* last word -> "Will Young", names no entity rule found */
    int given_types[2];          /* the helper types of given names (FIRSTNAME, GIVENWORD) */
    span_vec_t *found;           /* entities the linker adds */
} linker_t;

/* Words that start many names but never identify a person on their own. */
static const char *const stop_words[] = {
    "The", "A", "An", "Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Sir", "Dame", "Lord", "Lady",
    "Jr", "Sr", "II", "III", "Van", "Von", "De", "Del", "Da", "Di", "Le", "La", "Al", "El",
    "Bin", "Ben", "St", "Saint", "President", "General", "Minister", "King", "Queen", "Pope",
};

static int is_blank_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Whether a word of a full name may stand for the person on its own: not a title, not an
 * initial, not a word in capitals ("DVD" of a wrong "Ray DVD", "TV"). */
static int name_word_usable(const char *w, size_t n)
{
    if (n < 2 || w[n - 1] == '.')
        return 0;
    size_t lower = 0;
    for (size_t i = 0; i < n; i++)
        lower += (unsigned char)w[i] >= 0x80 || (w[i] >= 'a' && w[i] <= 'z');
    if (lower == 0)
        return 0;
    size_t i = 0;
    if (!token_char_is_upper(utf8_next((const unsigned char *)w, &i)))
        return 0;
    for (size_t k = 0; k < sizeof(stop_words) / sizeof(stop_words[0]); k++)
        if (strlen(stop_words[k]) == n && memcmp(stop_words[k], w, n) == 0)
            return 0;
    return 1;
}

static void entity_canonical(const doc_t *d, const span_t *e, const char **c, size_t *n)
{
    if (e->canonical) {
        *c = e->canonical;
        *n = e->canonical_len;
    } else {
        *c = d->text + e->start;
        *n = e->end - e->start;
    }
}

static char lower_ascii(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char upper_ascii(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Whether a and b of n bytes are equal but for the case of ASCII letters. */
static int equal_fold(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower_ascii(a[i]) != lower_ascii(b[i]))
            return 0;
    return 1;
}

/* The name part of a PERSON mention: a canonical name that is a part of its own text is the
 * name without a title (a rule's canonical group), else the whole text.  1 for a part. */
static int person_name(const doc_t *d, const span_t *e, const char **t, size_t *n)
{
    *t = d->text + e->start;
    *n = e->end - e->start;
    if (e->canonical && e->canonical >= *t && e->canonical + e->canonical_len <= *t + *n &&
        e->canonical_len > 0) {
        *t = e->canonical;
        *n = e->canonical_len;
        return 1;
    }
    return 0;
}

/* Registers w[0..n) of a full name in capitals ("GREEN" for "Damon Green"); a word only
 * when it may stand for the person (word), a whole name always. */
static int put_caps(linker_t *lk, const char *w, size_t n, const char *canon, size_t clen, int word)
{
    if (word && !name_word_usable(w, n))
        return 0;
    char *key = nerd_arena_alloc(lk->d->worker->arena, n + 1);
    if (key == NULL)
        return NERD_ENOMEM;
    for (size_t i = 0; i < n; i++)
        key[i] = upper_ascii(w[i]);
    key[n] = '\0';
    name_map_put(&lk->caps, key, n, canon, clen);
    return 0;
}

/*
 * Headlines in capitals come before the story that names the people in full ("GREEN TO LEAD
 * SIDE" above "Damon Green ..."): every full name in the text, wherever it is, and its
 * first and last words, in capitals, for the words of lines in capitals (link_caps).
 */
static int register_caps(linker_t *lk, const span_vec_t *ents)
{
    const doc_t *d = lk->d;
    for (size_t k = 0; k < ents->count; k++) {
        const span_t *e = &ents->items[k];
        if (e->removed || e->type != d->rules->person_type)
            continue;
        const char *t;
        size_t n, a = 0, b;
        person_name(d, e, &t, &n);
        while (a < n && !is_blank_byte((unsigned char)t[a]))
            a++;
        if (a == n)
            continue;
        for (b = n; b > 0 && !is_blank_byte((unsigned char)t[b - 1]); b--)
            ;
        const char *canon;
        size_t clen;
        entity_canonical(d, e, &canon, &clen);
        if (put_caps(lk, t, a, canon, clen, 1) != 0 || put_caps(lk, t + b, n - b, canon, clen, 1) != 0 ||
            put_caps(lk, t, n, canon, clen, 0) != 0)
            return NERD_ENOMEM;
    }
    return 0;
}

/* Company-form words that end an organisation's full name ("Ruch SA", "Daniels Pharmaceuticals
 * Inc"): the words before them are its short name in the rest of the story. */
static const char *const corp_words[] = {
    "Inc", "Inc.", "Corp", "Corp.", "Co", "Co.", "Ltd", "Ltd.", "SA", "S.A.", "AG", "plc", "PLC",
    "NV", "N.V.", "LLC", "GmbH", "SpA", "Bhd", "Group", "Holdings", "Industries",
};

static int is_corp_word(const char *w, size_t n)
{
    for (size_t k = 0; k < sizeof(corp_words) / sizeof(corp_words[0]); k++)
        if (strlen(corp_words[k]) == n && memcmp(corp_words[k], w, n) == 0)
            return 1;
    return 0;
}

/*
 * Every ORG of the text, wherever it is, by its text; one with a company-form last word also
 * by the words before that word and by its first word ("Ruch" of "Ruch SA", "Daniels" of
 * "Daniels Pharmaceuticals Inc").  A PERSON with such a text that no full name of a person, no
 * title and no earlier linking backs is the organisation (link_person): a story about a company
 * names it in full once, then by its short name, which the rules for lone surnames and speakers
 * take for a person ("Ruch said ...").
 */
static int register_initials(linker_t *lk, const span_t *e);

static int register_orgs(linker_t *lk, const span_vec_t *ents)
{
    const doc_t *d = lk->d;
    for (size_t k = 0; k < ents->count; k++) {
        const span_t *e = &ents->items[k];
        if (e->removed || e->type != d->rules->org_type)
            continue;
        if (register_initials(lk, e) != 0)
            return NERD_ENOMEM;
        const char *t = d->text + e->start, *canon;
        size_t n = e->end - e->start, clen, b, a = 0;
        entity_canonical(d, e, &canon, &clen);
        name_map_put(&lk->orgs, t, n, canon, clen);
        for (b = n; b > 0 && !is_blank_byte((unsigned char)t[b - 1]); b--)
            ;
        if (b == 0 || !is_corp_word(t + b, n - b))
            continue;
        size_t m = b;
        while (m > 0 && (is_blank_byte((unsigned char)t[m - 1]) || t[m - 1] == ','))
            m--;
        if (m > 0)
            name_map_put(&lk->orgs, t, m, canon, clen);
        while (a < m && !is_blank_byte((unsigned char)t[a]))
            a++;
        if (a < m && name_word_usable(t, a))
            name_map_put(&lk->orgs, t, a, canon, clen);
    }
    return 0;
}

/* Small words that an organisation's initials leave out: "Royal Bank of Canada" -> "RBC". */
static int initials_skip(const char *w, size_t n)
{
    static const char *const small[] = {"of", "and", "the", "The", "for", "on", "in", "de", "du", "des",
                                        "la", "le", "&"};
    for (size_t k = 0; k < sizeof(small) / sizeof(small[0]); k++)
        if (strlen(small[k]) == n && memcmp(small[k], w, n) == 0)
            return 1;
    return 0;
}

/*
 * Registers the initials of an organisation's name as an acronym of it: "Canada Revenue Agency"
 * -> "CRA", "Immigration, Refugees and Citizenship Canada" -> "IRCC".  Only names of three or
 * more capitalised words (two-letter initials are too often something else: "US", "AP"), every
 * word but the small ones capitalised and ASCII-initialled.  The first organisation of an
 * acronym keeps it.
 */
static int register_initials(linker_t *lk, const span_t *e)
{
    const char *t = lk->d->text + e->start;
    size_t n = e->end - e->start, count = 0;
    char buf[16];
    for (size_t i = 0; i < n;) {
        while (i < n && (is_blank_byte((unsigned char)t[i]) || t[i] == ','))
            i++;
        size_t j = i;
        while (j < n && !is_blank_byte((unsigned char)t[j]) && t[j] != ',')
            j++;
        if (j == i)
            break;
        if (!initials_skip(t + i, j - i)) {
            if (!(t[i] >= 'A' && t[i] <= 'Z') || count == sizeof(buf))
                return 0;
            for (size_t k = i; k < j; k++)   /* a word in capitals is an acronym itself */
                if (t[k] >= 'A' && t[k] <= 'Z' && k > i)
                    return 0;
            buf[count++] = t[i];
        }
        i = j;
    }
    if (count < 3)
        return 0;
    char *key = nerd_arena_alloc(lk->d->worker->arena, count);
    if (key == NULL)
        return NERD_ENOMEM;
    memcpy(key, buf, count);
    const char *canon;
    size_t clen;
    entity_canonical(lk->d, e, &canon, &clen);
    name_map_add(&lk->initials, key, count, canon, clen);
    return 0;
}

/* A PERSON that no list or full name backs and whose text names an ORG of the text becomes
 * that ORG.  1 when it did. */
static int person_as_org(linker_t *lk, span_t *e, const char *t, size_t n)
{
    if (lk->orgs.used == 0 || e->canonical != NULL || e->linked || lk->d->rules->org_type < 0)
        return 0;
    const name_entry_t *hit = name_map_get(&lk->orgs, t, n);
    if (hit == NULL)
        return 0;
    e->type = (uint16_t)lk->d->rules->org_type;
    e->canonical = hit->canonical;
    e->canonical_len = hit->canonical_len;
    e->linked = 1;
    e->rule_id = "link.org";
    extract_mask(lk->d, e);   /* the relation stage sees it as the ORG it now is */
    return 1;
}

/*
 * A PERSON: register the first and last words of a full name, or link a one-word mention.  A
 * canonical name that is a part of the mention's own text is its name without a title ("Mr.
 * Hemming" -> "Hemming", from a rule's canonical group): the name part is what is registered
 * or linked, so "Professor Eastman" after "Cres Eastman" is Cres Eastman.
 */
static void link_person(linker_t *lk, span_t *e)
{
    const char *t;
    size_t n, a = 0;
    int part = person_name(lk->d, e, &t, &n);
    while (a < n && !is_blank_byte((unsigned char)t[a]))
        a++;
    if (a == n) {
        const name_entry_t *hit = e->canonical && !part ? NULL : name_map_get(&lk->people, t, n);
        if (hit == NULL && e->canonical == NULL)
            hit = name_map_get(&lk->intro, t, n);
        if (hit) {
            e->canonical = hit->canonical;
            e->canonical_len = hit->canonical_len;
        } else if (!part && person_as_org(lk, e, t, n)) {
            return;
        }
        if (name_word_usable(t, n))
            name_map_put(&lk->family, t, n, t, n);
        return;
    }
    if (!part && name_map_get(&lk->people, t, n) == NULL && person_as_org(lk, e, t, n))
        return;
    size_t b = n;
    while (b > 0 && !is_blank_byte((unsigned char)t[b - 1]))
        b--;
    const char *canon;
    size_t clen;
    entity_canonical(lk->d, e, &canon, &clen);
    if (name_word_usable(t, a))
        name_map_add(&lk->people, t, a, canon, clen);
    if (name_word_usable(t + b, n - b)) {
        name_map_add(&lk->people, t + b, n - b, canon, clen);
        name_map_put(&lk->family, t + b, n - b, canon, clen);
    }
}

/* The first token that starts at or after offset. */
static size_t token_at(const doc_t *d, uint32_t offset)
{
    return extract_first_from(d->tokens, d->token_count, sizeof(token_t), offsetof(token_t, start),
                              offset);
}

static int token_is(const doc_t *d, size_t i, const char *s)
{
    size_t n = strlen(s);
    return i < d->token_count && d->tokens[i].end - d->tokens[i].start == n &&
           memcmp(d->text + d->tokens[i].start, s, n) == 0;
}

/* An ORG: an acronym in brackets right after it ("Party's (CCP)") becomes its alias. */
static void link_org(linker_t *lk, const span_t *e)
{
    const doc_t *d = lk->d;
    size_t i = token_at(d, e->end);
    if ((token_is(d, i, "'") || token_is(d, i, "\xE2\x80\x99")) && token_is(d, i + 1, "s") &&
        !(d->tokens[i].flags & TOK_SPACE_BEFORE))
        i += 2;
    if (!token_is(d, i, "(") || !token_is(d, i + 2, ")"))
        return;
    const token_t *a = &d->tokens[i + 1];
    if (!(a->flags & TOK_ALLCAPS) || a->end - a->start < 2)
        return;
    const char *canon;
    size_t clen;
    entity_canonical(d, e, &canon, &clen);
    name_map_put(&lk->acronyms, d->text + a->start, a->end - a->start, canon, clen);
}

/*
 * A one-word place that is a word of a person named earlier ("Paris" after "Valeska Paris") is
 * that person: news names a person in full once, then by one name, and the reader takes it so.
 */
static void link_place(linker_t *lk, span_t *e)
{
    const char *t = lk->d->text + e->start;
    size_t n = e->end - e->start;
    if (lk->people.used == 0 || memchr(t, ' ', n) != NULL || lk->d->rules->person_type < 0)
        return;
    const name_entry_t *hit = name_map_get(&lk->people, t, n);
    if (hit == NULL)
        return;
    e->type = (uint16_t)lk->d->rules->person_type;
    e->canonical = hit->canonical;
    e->canonical_len = hit->canonical_len;
    e->linked = 1;
    e->rule_id = "link.person";
}

static void link_entity(linker_t *lk, span_t *e)
{
    const nerd_rules_t *rules = lk->d->rules;
    if (e->removed)
        return;   /* a unit inside a full name found by linking */
    if (e->type == rules->loc_type)
        link_place(lk, e);
    if (e->type == rules->person_type) {
        link_person(lk, e);
    } else if (e->type == rules->org_type) {
        if (e->canonical == NULL) {
            const name_entry_t *hit = name_map_get(&lk->acronyms, lk->d->text + e->start, e->end - e->start);
            if (hit == NULL)
                hit = name_map_get(&lk->initials, lk->d->text + e->start, e->end - e->start);
            if (hit) {
                e->canonical = hit->canonical;
                e->canonical_len = hit->canonical_len;
            }
        }
        link_org(lk, e);
    }
}

static int is_internal(const doc_t *d, const span_t *e);

/*
 * A bare first word of a known person followed by the rest of that person's full name ("Kevin"
 * of "Kevin Taipei", where "Taipei" is a place unit): the whole name is the mention.  With fold,
 * in any case of ASCII letters ("DAMON GREEN").  Returns
 * the last token of the name, or SIZE_MAX when the text there is not the full name or an entity
 * other than a place or a helper unit lies in its way.  Those units are marked removed.
 */
static size_t link_full_name(linker_t *lk, size_t i, const name_entry_t *hit, int fold)
{
    doc_t *d = lk->d;
    const token_t *tk = d->tokens;
    uint32_t start = tk[i].start, end = start + hit->canonical_len;
    if (hit->canonical_len <= tk[i].end - start || end > d->len)
        return SIZE_MAX;
    if (fold ? !equal_fold(d->text + start, hit->canonical, hit->canonical_len)
             : memcmp(d->text + start, hit->canonical, hit->canonical_len) != 0)
        return SIZE_MAX;
    size_t j = i;
    while (j + 1 < d->token_count && tk[j].end < end)
        j++;
    if (tk[j].end != end ||
        (j + 1 < d->token_count && !(tk[j + 1].flags & (TOK_SPACE_BEFORE | TOK_PUNCT))))
        return SIZE_MAX;
    span_vec_t *ents = &d->worker->entities;
    size_t lo = span_vec_first_from(ents, start);
    for (size_t k = lo; k > 0; k--) {   /* one that starts before and reaches in: not a fit */
        const span_t *e = &ents->items[k - 1];
        if (e->start + 256 < start)
            break;   /* entities are short */
        if (!e->removed && e->end > start)
            return SIZE_MAX;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = lo; k < ents->count && ents->items[k].start < end; k++) {
            span_t *e = &ents->items[k];
            if (e->removed)
                continue;
            int fits = e->start >= start && e->end <= end &&
                       (e->type == d->rules->loc_type || is_internal(d, e));
            if (!fits)
                return SIZE_MAX;
            if (pass == 1)
                e->removed = 1;
        }
    }
    return j;
}

/*
 * The first token of a linked mention of a person, moved back over the bare words before it
 * that the full name has right there ("De Vos" of "Pieter De Vos", "Ming Tao" of "Lin Ming
 * Tao", "Van der Berg"): up to three words after floor (the end of the last entity or
 * mention), one blank apart, the first of them capitalised, when they and the mention end the
 * canonical name after a blank.
 */
static size_t link_back(const linker_t *lk, size_t i, uint32_t end, const name_entry_t *hit,
                        uint32_t floor)
{
    const doc_t *d = lk->d;
    const token_t *tk = d->tokens;
    size_t first = i;
    for (size_t back = 1; back <= 3 && back <= i; back++) {
        size_t p = i - back;
        if (tk[p].start < floor || !(tk[p].flags & TOK_WORD) ||
            !(tk[p + 1].flags & TOK_SPACE_BEFORE) || tk[p + 1].start != tk[p].end + 1 ||
            d->text[tk[p].end] != ' ')
            break;
        size_t n = end - tk[p].start;
        if (n >= hit->canonical_len)
            break;
        const char *tail = hit->canonical + hit->canonical_len - n;
        const char *w = d->text + tk[p].start;   /* "Van der" may open what "van der" ends */
        if ((tk[p].flags & TOK_CAP) && tail[-1] == ' ' && lower_ascii(tail[0]) == lower_ascii(w[0]) &&
            memcmp(tail + 1, w + 1, n - 1) == 0)
            first = p;
    }
    return first;
}

/* Adds the mention of tokens first..last found by linking; returns last, or SIZE_MAX - 1. */
static size_t push_mention(linker_t *lk, size_t first, size_t last, const name_entry_t *hit, int org)
{
    const doc_t *d = lk->d;
    span_t s;
    memset(&s, 0, sizeof(s));
    s.start = d->tokens[first].start;
    s.end = d->tokens[last].end;
    s.rule = UINT32_MAX;
    s.type = (uint16_t)(org ? d->rules->org_type : d->rules->person_type);
    s.linked = 1;
    s.canonical = hit->canonical;
    s.canonical_len = hit->canonical_len;
    s.rule_id = org ? "link.acronym" : "link.person";
    if (span_vec_push(lk->found, &s) != 0)
        return SIZE_MAX - 1;
    return last;
}

/*
 * A family named by the plural of a known person's surname after "the" ("the Clintons" after "Bill
 * Clinton" or "Clinton", "the Okafors"): a PERSON mention of its own, whose canonical name is its
 * text (the family, not the one person).  A first name does not count ("the Oscars" after "Oscar
 * Wilde" are the awards).  Returns token i, or SIZE_MAX.
 */
static size_t link_family(linker_t *lk, size_t i, uint32_t limit)
{
    const doc_t *d = lk->d;
    const token_t *tk = d->tokens;
    const char *w = d->text + tk[i].start;
    size_t n = tk[i].end - tk[i].start;
    if (n < 4 || w[n - 1] != 's' || w[n - 2] == 's' || tk[i].end > limit || i == 0 ||
        (tk[i].flags & TOK_ALLCAPS) || !(tk[i].flags & TOK_SPACE_BEFORE) ||
        !(token_is(d, i - 1, "the") || token_is(d, i - 1, "The")))
        return SIZE_MAX;
    if (i + 1 < d->token_count && !(tk[i + 1].flags & (TOK_SPACE_BEFORE | TOK_PUNCT)))
        return SIZE_MAX;
    if (i + 1 < d->token_count && !(tk[i + 1].flags & TOK_SPACE_BEFORE) &&
        (token_is(d, i + 1, "-") || token_is(d, i + 1, "'") || token_is(d, i + 1, "\xE2\x80\x99")) &&
        i + 2 < d->token_count && !(tk[i + 2].flags & TOK_SPACE_BEFORE) && (tk[i + 2].flags & TOK_WORD))
        return SIZE_MAX;   /* "the Okafors-led", not a plural word on its own */
    const name_entry_t *hit = name_map_get(&lk->family, w, n - 1);
    if (hit == NULL)
        return SIZE_MAX;
    name_entry_t self = *hit;
    self.canonical = w;
    self.canonical_len = (uint32_t)n;
    return push_mention(lk, i, i, &self, 0);
}

static int caps_line(const doc_t *d, size_t i, size_t j);

/* Whether the word in capitals at token i may be the initials of an organisation on its own:
 * not the start of a longer name ("IAAF Grand Prix") nor a word of a line in capitals. */
static int initials_fit(const doc_t *d, size_t i)
{
    const token_t *tk = d->tokens;
    if (i + 1 < d->token_count && (tk[i + 1].flags & TOK_WORD) && (tk[i + 1].flags & TOK_CAP) &&
        !(tk[i + 1].flags & TOK_NEWLINE_BEFORE))
        return 0;
    return !caps_line(d, i, i);
}

/*
 * A bare word at token i, outside every entity and ending before limit: is it a known
 * acronym or a word of a known person?  Returns the last token of the mention, or SIZE_MAX.
 */
static size_t link_bare(linker_t *lk, size_t i, uint32_t limit, uint32_t floor)
{
    doc_t *d = lk->d;
    const token_t *tk = d->tokens;
    if (!(tk[i].flags & TOK_WORD) || !(tk[i].flags & TOK_CAP))
        return SIZE_MAX;
    if (i > 0 && !(tk[i].flags & TOK_SPACE_BEFORE) && !(tk[i - 1].flags & TOK_PUNCT))
        return SIZE_MAX;
    const name_entry_t *best = NULL;
    size_t best_j = 0;
    int best_org = 0;
    for (size_t j = i; j < d->token_count && j < i + LINK_MAX_WORD_TOKENS; j++) {
        if (j > i && (tk[j].flags & TOK_SPACE_BEFORE))
            break;
        if (tk[j].end > limit)
            break;
        if (!(tk[j].flags & TOK_WORD))
            continue;
        if (j + 1 < d->token_count && !(tk[j + 1].flags & (TOK_SPACE_BEFORE | TOK_PUNCT)))
            continue;
        const char *w = d->text + tk[i].start;
        size_t n = tk[j].end - tk[i].start;
        const name_entry_t *hit = name_map_get(&lk->acronyms, w, n);
        if (hit == NULL && j == i && (tk[i].flags & TOK_ALLCAPS) && initials_fit(d, i))
            hit = name_map_get(&lk->initials, w, n);
        int org = hit != NULL;
        if (hit == NULL)
            hit = name_map_get(&lk->people, w, n);
        if (hit) {
            best = hit;
            best_j = j;
            best_org = org;
        }
    }
    if (best == NULL)
        return link_family(lk, i, limit);
    if (token_hyphen_joined(d->text, tk, d->token_count, i, best_j))
        return SIZE_MAX;
    if (!best_org && best_j == i) {
        size_t full = link_full_name(lk, i, best, 0);
        if (full != SIZE_MAX)
            best_j = full;
    }
    size_t first = best_org ? i : link_back(lk, i, tk[best_j].end, best, floor);
    return push_mention(lk, first, best_j, best, best_org);
}

/*
 * Whether tokens i..j stand in a line of capitals: the nearest word before them or after them
 * on their line is in capitals too ("RUGBY - GREEN TO LEAD", not the speaker of a transcript
 * line "PENCE: Well, ...").
 */
static int caps_line(const doc_t *d, size_t i, size_t j)
{
    const token_t *tk = d->tokens;
    for (size_t k = i; k > 0 && k + 4 > i; k--) {
        if (tk[k].flags & TOK_NEWLINE_BEFORE)
            break;
        if (tk[k - 1].flags & TOK_WORD) {
            if (tk[k - 1].flags & TOK_ALLCAPS)
                return 1;
            break;
        }
    }
    for (size_t k = j + 1; k < d->token_count && k < j + 5; k++) {
        if (tk[k].flags & TOK_NEWLINE_BEFORE)
            break;
        if (tk[k].flags & TOK_WORD)
            return (tk[k].flags & TOK_ALLCAPS) != 0;
    }
    return 0;
}

/*
 * A word of a line in capitals ("RUGBY - GREEN TO LEAD SIDE"), outside every entity,
 * that is a word of a full name anywhere in the text, or that name in full ("DAMON GREEN"): a
 * mention of that person.  Returns the last token of the mention, or SIZE_MAX.
 */
static size_t link_caps(linker_t *lk, size_t i)
{
    doc_t *d = lk->d;
    const token_t *tk = d->tokens;
    if (!(tk[i].flags & TOK_WORD) || !(tk[i].flags & TOK_ALLCAPS) || tk[i].end - tk[i].start < 3)
        return SIZE_MAX;
    if (i > 0 && !(tk[i].flags & TOK_SPACE_BEFORE) && !(tk[i - 1].flags & TOK_PUNCT))
        return SIZE_MAX;
    if (i + 1 < d->token_count && !(tk[i + 1].flags & (TOK_SPACE_BEFORE | TOK_PUNCT)))
        return SIZE_MAX;
    size_t j = i;   /* the longest run of capitals words, one blank apart, that is a name */
    while (j + 1 < d->token_count && j < i + 3 && (tk[j + 1].flags & TOK_WORD) &&
           (tk[j + 1].flags & TOK_ALLCAPS) && tk[j + 1].start == tk[j].end + 1 && d->text[tk[j].end] == ' ')
        j++;
    for (;; j--) {
        const name_entry_t *hit = name_map_get(&lk->caps, d->text + tk[i].start, tk[j].end - tk[i].start);
        if (hit && !caps_line(d, i, j))
            hit = NULL;
        if (hit && (j == i || link_full_name(lk, i, hit, 1) == j) &&
            !token_hyphen_joined(d->text, tk, d->token_count, i, j))
            return push_mention(lk, i, j, hit, 0);
        if (j == i)
            return SIZE_MAX;
    }
}

static int is_internal(const doc_t *d, const span_t *e)
{
    return (d->rules->internal_types >> e->type) & 1;
}

/* Whether an entity of a given-name helper type spans exactly [start, end). */
static int given_name_at(const linker_t *lk, uint32_t start, uint32_t end)
{
    const span_vec_t *ents = &lk->d->worker->entities;
    for (size_t k = span_vec_first_from(ents, start); k < ents->count && ents->items[k].start == start;
         k++) {
        const span_t *e = &ents->items[k];
        if (!e->removed && e->end == end &&
            (e->type == lk->given_types[0] || e->type == lk->given_types[1]))
            return 1;
    }
    return 0;
}

/* Capitalised words that open sentences and clauses: never the first word of a name. */
static const char *const opener_words[] = {
    "But", "And", "Or", "So", "Yet", "When", "While", "After", "Before", "If", "As", "Then", "Now",
    "Still", "Also", "Even", "Only", "Like", "For", "With", "Without", "Although", "Though",
    "Because", "Since", "Unless", "Until", "Where", "Meanwhile", "However", "Here", "There",
    "This", "That", "Of", "In", "On", "At", "By", "From", "To", "Into", "Under", "Over", "Dear",
    "Both", "Neither", "Either", "Said", "Says", "Told", "Asked", "Added", "Coach", "Captain",
    "Minister", "Senator", "Governor", "Mayor", "Judge", "Chief", "Officer", "Former", "Young",
    "Old", "Big", "Little", "North", "South", "East", "West", "New", "Monday", "Tuesday",
    "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

static int is_opener(const char *w, size_t n)
{
    for (size_t k = 0; k < sizeof(opener_words) / sizeof(opener_words[0]); k++)
        if (strlen(opener_words[k]) == n && memcmp(opener_words[k], w, n) == 0)
            return 1;
    return 0;
}

/*
 * Two capitalised words outside every entity but the helper units, at tokens i - 1 and i, that
 * introduce a person: "Will Young, a mechanic ..." (a comma and a lower-case word after them),
 * or whose first word is a given name of the lists.  "Will" is a word as often as a name and
 * "Young" is in no list, so no entity rule took them; the pair is the full name a later one-word
 * PERSON "Young" stands for.  The first such pair keeps the word.  covered is where the words
 * outside the entities start.
 */
static void register_intro(linker_t *lk, size_t i, uint32_t covered)
{
    const doc_t *d = lk->d;
    const token_t *tk = d->tokens;
    const unsigned want = TOK_WORD | TOK_CAP;
    if (i == 0 || (tk[i].flags & want) != want || (tk[i - 1].flags & want) != want ||
        (tk[i].flags & TOK_ALLCAPS) || tk[i - 1].start < covered || tk[i].start != tk[i - 1].end + 1 ||
        d->text[tk[i - 1].end] != ' ')
        return;
    if (i + 1 < d->token_count && !(tk[i + 1].flags & (TOK_SPACE_BEFORE | TOK_PUNCT)))
        return;
    if (i + 2 < d->token_count && !(tk[i + 1].flags & TOK_SPACE_BEFORE) &&
        !(tk[i + 2].flags & TOK_SPACE_BEFORE) && (tk[i + 2].flags & TOK_WORD))
        return;   /* "Young-Smith", "Young's": not the word on its own */
    const char *w = d->text + tk[i].start, *f = d->text + tk[i - 1].start;
    size_t n = tk[i].end - tk[i].start, fn = tk[i - 1].end - tk[i - 1].start;
    if (!name_word_usable(w, n) || !name_word_usable(f, fn) || is_opener(f, fn))
        return;
    int appositive = i + 2 < d->token_count && token_is(d, i + 1, ",") &&
                     (tk[i + 2].flags & TOK_WORD) && !(tk[i + 2].flags & TOK_CAP);
    if (!appositive && !given_name_at(lk, tk[i - 1].start, tk[i - 1].end))
        return;
    name_map_add(&lk->intro, w, n, d->text + tk[i - 1].start, tk[i].end - tk[i - 1].start);
}

/* A mention found by linking replaces the internal entities (name parts, ...) it overlaps. */
static void remove_internal(doc_t *d, uint32_t start, uint32_t end)
{
    span_vec_t *ents = &d->worker->entities;
    size_t lo = span_vec_first_from(ents, end);
    for (size_t k = lo; k > 0; k--) {
        span_t *e = &ents->items[k - 1];
        if (e->end <= start && e->start + 256 < start)
            break;   /* entities are short: nothing further back reaches the mention */
        if (e->start < end && start < e->end && !e->linked && is_internal(d, e))
            e->removed = 1;
    }
}

int link_entities(doc_t *d)
{
    nerd_worker_t *w = d->worker;
    span_vec_t *ents = &w->entities;
    size_t n = 0;
    for (size_t k = 0; k < ents->count; k++)
        if (!ents->items[k].removed)
            ents->items[n++] = ents->items[k];
    ents->count = n;
    if (d->rules->person_type < 0 && d->rules->org_type < 0)
        return 0;
    linker_t lk;
    memset(&lk, 0, sizeof(lk));
    lk.d = d;
    lk.found = &w->candidates;
    lk.found->count = 0;
    if (name_map_init(w->arena, &lk.people, 2 * n) != 0 || name_map_init(w->arena, &lk.acronyms, n) != 0 ||
        name_map_init(w->arena, &lk.caps, 2 * n) != 0 || name_map_init(w->arena, &lk.family, 2 * n) != 0 ||
        name_map_init(w->arena, &lk.orgs, 3 * n) != 0 || name_map_init(w->arena, &lk.intro, n) != 0 ||
        name_map_init(w->arena, &lk.initials, n) != 0 || register_caps(&lk, ents) != 0 ||
        register_orgs(&lk, ents) != 0)
        return NERD_ENOMEM;
    lk.given_types[0] = lk.given_types[1] = -1;
    for (size_t t = 0; t < d->rules->type_count; t++) {
        if (strcmp(d->rules->types[t], "FIRSTNAME") == 0)
            lk.given_types[0] = (int)t;
        else if (strcmp(d->rules->types[t], "GIVENWORD") == 0)
            lk.given_types[1] = (int)t;
    }
    size_t k = 0;
    uint32_t covered = 0;
    for (size_t i = 0; i < d->token_count; i++) {
        const token_t *t = &d->tokens[i];
        while (k < n && ents->items[k].start <= t->start) {
            span_t *e = &ents->items[k++];
            link_entity(&lk, e);
            if (!e->inner && e->end > covered && !is_internal(d, e))
                covered = e->end;
        }
        if (t->start < covered)
            continue;
        register_intro(&lk, i, covered);
        if (lk.people.used == 0 && lk.acronyms.used == 0 && lk.caps.used == 0 && lk.family.used == 0 &&
            lk.initials.used == 0)
            continue;
        size_t next = k;   /* a mention may cover words of internal entities, not others */
        while (next < n && is_internal(d, &ents->items[next]))
            next++;
        uint32_t limit = next < n ? ents->items[next].start : (uint32_t)d->len;
        uint32_t floor = covered;   /* a word already in a mention is not taken again */
        if (lk.found->count && lk.found->items[lk.found->count - 1].end > floor)
            floor = lk.found->items[lk.found->count - 1].end;
        size_t last = link_bare(&lk, i, limit, floor);
        if (last == SIZE_MAX && lk.caps.used)
            last = link_caps(&lk, i);
        if (last == SIZE_MAX - 1)
            return NERD_ENOMEM;
        if (last != SIZE_MAX)
            i = last;
    }
    for (; k < n; k++)
        link_entity(&lk, &ents->items[k]);
    for (size_t f = 0; f < lk.found->count; f++) {
        remove_internal(d, lk.found->items[f].start, lk.found->items[f].end);
        extract_mask(d, &lk.found->items[f]);
        if (span_vec_push(ents, &lk.found->items[f]) != 0)
            return NERD_ENOMEM;
    }
    if (lk.found->count)
        qsort(ents->items, ents->count, sizeof(span_t), span_by_start_longest);
    return 0;
}

/* en_bpe — CLIP's byte-level BPE tokenizer, and a trainer for new vocabularies.
 *
 * Loads OpenAI's bpe_simple_vocab_16e6.txt.gz (gzip or plain text: a header
 * line, then one merge "a b" per line; OpenAI uses the first 48,894) or a
 * vocab.json + merges.txt pair. The vocabulary is laid out as OpenAI's: 256
 * byte symbols, the same 256 with "</w>", one token per merge, then
 * <|startoftext|> and <|endoftext|> (49406 and 49407 for OpenAI's file).
 *
 * Encoding follows openai/CLIP's SimpleTokenizer: html.unescape twice,
 * strip, white space collapsed to one space, lower case (Python's
 * str.lower), the split pattern 's|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|
 * [^\s\p{L}\p{N}]+, bytes mapped to unicode, BPE by merge rank. ftfy's
 * text repair (mojibake, odd quotes) is not replicated. Text that is not
 * valid UTF-8 is an error naming the first bad byte's offset (encode,
 * tokenize, train); a damaged .gz is "corrupt gzip data (zlib: ...)".
 */
#ifndef EN_BPE_H
#define EN_BPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct en_bpe en_bpe;

#define EN_BPE_OPENAI_MERGES (49152 - 256 - 2)

/* Load a merges file (.gz or text). max_merges < 0: all merges for a file
 * written by en_bpe_train, OpenAI's 48,894 for a file with OpenAI's header.
 * NULL + en_error() on failure. */
en_bpe *en_bpe_load(const char *path, int max_merges);
/* Load a Hugging Face style vocab.json + merges.txt pair. */
en_bpe *en_bpe_load_pair(const char *vocab_json, const char *merges_txt);
void    en_bpe_free(en_bpe *b);

int     en_bpe_vocab_size(const en_bpe *b);
int     en_bpe_sot(const en_bpe *b);  /* <|startoftext|> */
int     en_bpe_eot(const en_bpe *b);  /* <|endoftext|> */

/* The ids of text without start/end tokens. Returns the count written (at
 * most cap) and the full count in *total (may exceed cap). -1 on error. */
int     en_bpe_encode(en_bpe *b, const char *text, int32_t *ids, int cap, int *total);

/* CLIP's tokenize(): [sot, ids..., eot, 0...] of length ctx (77 for CLIP).
 * Over-long text is an error unless truncate is set; then the last token
 * is eot. 0 ok, -1 + en_error(). */
int     en_bpe_tokenize(en_bpe *b, const char *text, int ctx, int truncate, int32_t *out);

/* The text of one token id (byte symbols decoded back to bytes, "</w>" as a
 * space); malloc'd. */
char   *en_bpe_decode(const en_bpe *b, const int32_t *ids, int n);

/* Learn n_merges merges from texts (cleaned and split exactly as encoding
 * does; most frequent pair first, ties broken by the pair's text) and write
 * them in OpenAI's format to path (gzip when it ends in .gz). Returns the
 * number of merges learnt (fewer when no pair occurs twice), -1 on error. */
int     en_bpe_train(const char *const *texts, int n_texts, int n_merges, const char *path);

#endif

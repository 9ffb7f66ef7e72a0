/* libFuzzer target: the message decoder (koers_codec_decode) on arbitrary bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/codec.h"
#include "koers/schema.h"

/* Other versions of goal_change (tests/data/schemas/evolution), compiled in, so that inputs
 * also go through schema resolution and the reader variants that apply defaults. */
extern const koers_schema_file_t fuzz_evolution_files[];

static koers_codec_t *codec;

/* The codec lives as long as the process; freed at exit so that the leak checker, which runs
 * after this, sees only what decoding itself may have lost. */
static void fuzz_free_codec(void)
{
    koers_codec_free(codec);
    codec = NULL;
}

static koers_codec_t *fuzz_codec(void)
{
    char err[512];
    if (codec)
        return codec;
    atexit(fuzz_free_codec);
    codec = koers_codec_new(err, sizeof err);
    if (!codec) {
        fprintf(stderr, "fuzz_decode: %s\n", err);
        abort();
    }
    for (const koers_schema_file_t *f = fuzz_evolution_files; f->name; f++)
        if (koers_codec_add_writer(codec, f->json, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_decode: %s: %s\n", f->name, err);
            abort();
        }
    return codec;
}

/* Builds the codec before the first input, so that its allocations are not taken for an
 * input's. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_codec();
    return 0;
}

/* Whatever the bytes, decode returns 0 or -1 with a reason, never crashes, leaks or reads
 * out of bounds; what it accepts is a valid event that encodes and decodes to itself. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    koers_codec_t *c = fuzz_codec();
    koers_event_t ev, again;
    char err[512] = "";
    if (koers_codec_decode(c, data, size, &ev, err, sizeof err) != 0) {
        if (!err[0])
            abort(); /* a refusal without a reason */
        return 0;
    }
    if (koers_event_validate(&ev, err, sizeof err) != 0)
        abort();
    unsigned char buf[2048];
    size_t len;
    if (koers_codec_encode(c, &ev, buf, sizeof buf, &len, err, sizeof err) != 0 ||
        koers_codec_decode(c, buf, len, &again, err, sizeof err) != 0 ||
        memcmp(&ev, &again, sizeof ev) != 0) {
        fprintf(stderr, "fuzz_decode: accepted event does not round-trip: %s\n", err);
        abort();
    }
    return 0;
}

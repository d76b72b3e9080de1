/* test-io.c — safetensors and config.json readers: exact values, round
 * trips, sharded checkpoints, and the bad files they must refuse cleanly.
 *
 * Every file is written under a fresh g_dir_make_tmp folder that the test
 * removes again; expected float values are worked out by hand from the bit
 * patterns and compared bit for bit.
 */
#include "gen-config.h"
#include "gen-error.h"
#include "gen-safetensors.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#ifdef G_OS_UNIX
#include <sys/stat.h>
#endif

/* ---- helpers ------------------------------------------------------------- */

/* Writes LEN bytes to DIR/NAME; returns the path (g_free). */
static char *
write_file (const char *dir, const char *name, const void *data, gsize len)
{
  GError *error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_file_set_contents (path, data, (gssize) len, &error);
  g_assert_no_error (error);
  return path;
}

static void
put_u16 (GByteArray *b, guint16 v)
{
  guint8 x[2] = { (guint8) v, (guint8) (v >> 8) };
  g_byte_array_append (b, x, 2);
}

static void
put_u32 (GByteArray *b, guint32 v)
{
  guint8 x[4] = { (guint8) v, (guint8) (v >> 8), (guint8) (v >> 16), (guint8) (v >> 24) };
  g_byte_array_append (b, x, 4);
}

static void
put_u64 (GByteArray *b, guint64 v)
{
  put_u32 (b, (guint32) v);
  put_u32 (b, (guint32) (v >> 32));
}

/* A safetensors image: 8-byte length HLEN (strlen (HEADER) unless
 * HLEN_SET), the header, then BODY (or BODY_LEN zero bytes if BODY is NULL). */
static GByteArray *
make_st (const char *header, gboolean hlen_set, guint64 hlen, const void *body, gsize body_len)
{
  GByteArray *b = g_byte_array_new ();

  put_u64 (b, hlen_set ? hlen : strlen (header));
  g_byte_array_append (b, (const guint8 *) header, (guint) strlen (header));
  if (body != NULL)
    g_byte_array_append (b, body, (guint) body_len);
  else
    {
      guint old = b->len;
      g_byte_array_set_size (b, old + (guint) body_len);
      memset (b->data + old, 0, body_len);
    }
  return b;
}

static char *
write_st (const char *dir, const char *name, const char *header, const void *body,
          gsize body_len)
{
  GByteArray *b = make_st (header, FALSE, 0, body, body_len);
  char *path = write_file (dir, name, b->data, b->len);

  g_byte_array_unref (b);
  return path;
}

static guint32
f32_bits (float f)
{
  guint32 u;

  memcpy (&u, &f, sizeof u);
  return u;
}

/* Asserts ERROR is GEN_ERROR/CODE and its message holds every NEEDLE. */
static void
assert_error (GError *error, int code, const char *needle1, const char *needle2,
              const char *needle3)
{
  const char *needles[] = { needle1, needle2, needle3 };
  gsize i;

  g_assert_nonnull (error);
  if (g_test_verbose ())
    g_test_message ("error: %s", error->message);
  g_assert_error (error, GEN_ERROR, code);
  for (i = 0; i < G_N_ELEMENTS (needles); i++)
    if (needles[i] != NULL && strstr (error->message, needles[i]) == NULL)
      g_error ("message \"%s\" lacks \"%s\"", error->message, needles[i]);
}

/* ---- conversions ----------------------------------------------------------- */

static void
test_f16_bits (void)
{
  static const struct { guint16 h; guint32 bits; float value; } cases[] = {
    { 0x3C00, 0x3F800000, 1.0f },
    { 0xC000, 0xC0000000, -2.0f },
    { 0x3555, 0x3EAAA000, 0.333251953125f },       /* (1 + 341/1024) * 2^-2 */
    { 0x0001, 0x33800000, 5.9604644775390625e-08f }, /* smallest subnormal, 2^-24 */
    { 0x03FF, 0x387FC000, 6.097555160522461e-05f },  /* largest subnormal, 1023 * 2^-24 */
    { 0x0400, 0x38800000, 6.103515625e-05f },        /* smallest normal, 2^-14 */
    { 0x7BFF, 0x477FE000, 65504.0f },                /* largest finite */
    { 0x7C00, 0x7F800000, INFINITY },
    { 0xFC00, 0xFF800000, -INFINITY },
    { 0x8000, 0x80000000, -0.0f },
    { 0x0000, 0x00000000, 0.0f },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      float f = gen_f16_to_f32 (cases[i].h);
      g_assert_cmphex (f32_bits (f), ==, cases[i].bits);
      g_assert_cmpfloat (f, ==, cases[i].value);
    }
  g_assert_true (isnan (gen_f16_to_f32 (0x7E00)));
  g_assert_cmphex (f32_bits (gen_f16_to_f32 (0x7E00)), ==, 0x7FC00000);
  g_assert_true (isnan (gen_f16_to_f32 (0xFC01)));
  g_assert_true (signbit (gen_f16_to_f32 (0x8000)));
}

static void
test_bf16_bits (void)
{
  g_assert_cmpfloat (gen_bf16_to_f32 (0x3F80), ==, 1.0f);
  g_assert_cmpfloat (gen_bf16_to_f32 (0xC040), ==, -3.0f);
  g_assert_cmpfloat (gen_bf16_to_f32 (0x4049), ==, 3.140625f);
  g_assert_cmphex (f32_bits (gen_bf16_to_f32 (0x0001)), ==, 0x00010000); /* subnormal 2^-133 */
  g_assert_cmpfloat (gen_bf16_to_f32 (0x7F80), ==, INFINITY);
  g_assert_true (isnan (gen_bf16_to_f32 (0x7FC0)));
  g_assert_true (signbit (gen_bf16_to_f32 (0x8000)));
}

/* ---- a valid file ------------------------------------------------------------- */

/* The header length is not a multiple of 8, and "odd" starts at data
 * offset 53, so its floats are unaligned in memory. */
static const char valid_header[] =
  "{\"__metadata__\":{\"format\":\"pt\"},"
  "\"f32\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
  "\"f16\":{\"dtype\":\"F16\",\"shape\":[2,5],\"data_offsets\":[12,32]},"
  "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[32,40]},"
  "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[40,44]},"
  "\"empty\":{\"dtype\":\"F16\",\"shape\":[2,0,3],\"data_offsets\":[44,44]},"
  "\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[44,52]},"
  "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[52,53]},"
  "\"odd\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[53,61]}}";

static const guint16 valid_f16[10] = { 0x3C00, 0xC000, 0x3555, 0x0001, 0x03FF,
                                       0x0400, 0x7C00, 0xFC00, 0x8000, 0x7BFF };
static const guint32 valid_f16_bits[10] = { 0x3F800000, 0xC0000000, 0x3EAAA000, 0x33800000,
                                            0x387FC000, 0x38800000, 0x7F800000, 0xFF800000,
                                            0x80000000, 0x477FE000 };

static GByteArray *
valid_body (void)
{
  GByteArray *b = g_byte_array_new ();
  gsize i;

  put_u32 (b, 0x3FC00000); /* f32: 1.5 */
  put_u32 (b, 0xBE800000); /*      -0.25 */
  put_u32 (b, 0x00000001); /*      smallest subnormal */
  for (i = 0; i < G_N_ELEMENTS (valid_f16); i++)
    put_u16 (b, valid_f16[i]);
  put_u16 (b, 0x3F80); /* bf16: 1.0 */
  put_u16 (b, 0xC040); /*       -3.0 */
  put_u16 (b, 0x4049); /*       3.140625 */
  put_u16 (b, 0x0001); /*       subnormal 2^-133 */
  put_u32 (b, 0x42280000); /* scalar: 42.0 */
  put_u64 (b, G_GUINT64_CONSTANT (0x0102030405060708)); /* ids */
  g_byte_array_append (b, (const guint8 *) "\x01", 1);  /* mask */
  put_u32 (b, 0x40400000); /* odd: 3.0 */
  put_u32 (b, 0xC0F00000); /*      -7.5 */
  g_assert_cmpuint (b->len, ==, 61);
  return b;
}

static void
check_valid (GenSafetensors *st, const guint8 *body)
{
  static const char *const order[] = { "bf16", "empty", "f16", "f32", "ids", "mask", "odd",
                                       "scalar" };
  const GenSafetensorsEntry *e;
  float f[10];
  guint i;

  g_assert_cmpuint (gen_safetensors_count (st), ==, 8); /* no __metadata__ */
  for (i = 0; i < G_N_ELEMENTS (order); i++)
    g_assert_cmpstr (gen_safetensors_nth (st, i)->name, ==, order[i]);
  g_assert_null (gen_safetensors_nth (st, 8));
  g_assert_null (gen_safetensors_find (st, "__metadata__"));
  g_assert_null (gen_safetensors_find (st, "nope"));

  e = gen_safetensors_find (st, "f32");
  g_assert_nonnull (e);
  g_assert_cmpint (e->dtype, ==, GEN_DTYPE_F32);
  g_assert_cmpstr (e->dtype_name, ==, "F32");
  g_assert_cmpint (e->ndim, ==, 1);
  g_assert_cmpint (e->shape[0], ==, 3);
  g_assert_cmpint (e->numel, ==, 3);
  g_assert_cmpuint (e->nbytes, ==, 12);
  if (body != NULL)
    g_assert_true (e->data == body);
  gen_safetensors_to_f32 (e, f);
  g_assert_cmpfloat (f[0], ==, 1.5f);
  g_assert_cmpfloat (f[1], ==, -0.25f);
  g_assert_cmphex (f32_bits (f[2]), ==, 0x00000001);

  e = gen_safetensors_find (st, "f16");
  g_assert_cmpint (e->dtype, ==, GEN_DTYPE_F16);
  g_assert_cmpint (e->ndim, ==, 2);
  g_assert_cmpint (e->shape[0], ==, 2);
  g_assert_cmpint (e->shape[1], ==, 5);
  g_assert_cmpint (e->numel, ==, 10);
  g_assert_cmpuint (e->nbytes, ==, 20);
  gen_safetensors_to_f32 (e, f);
  for (i = 0; i < 10; i++)
    g_assert_cmphex (f32_bits (f[i]), ==, valid_f16_bits[i]);
  g_assert_cmpfloat (f[3], ==, 5.9604644775390625e-08f);
  g_assert_cmpfloat (f[6], ==, INFINITY);
  g_assert_true (signbit (f[8]) && f[8] == 0.0f);

  e = gen_safetensors_find (st, "bf16");
  g_assert_cmpint (e->dtype, ==, GEN_DTYPE_BF16);
  gen_safetensors_to_f32 (e, f);
  g_assert_cmpfloat (f[0], ==, 1.0f);
  g_assert_cmpfloat (f[1], ==, -3.0f);
  g_assert_cmpfloat (f[2], ==, 3.140625f);
  g_assert_cmphex (f32_bits (f[3]), ==, 0x00010000);

  e = gen_safetensors_find (st, "scalar");
  g_assert_cmpint (e->ndim, ==, 0);
  g_assert_cmpint (e->numel, ==, 1);
  gen_safetensors_to_f32 (e, f);
  g_assert_cmpfloat (f[0], ==, 42.0f);

  e = gen_safetensors_find (st, "empty");
  g_assert_cmpint (e->ndim, ==, 3);
  g_assert_cmpint (e->shape[1], ==, 0);
  g_assert_cmpint (e->numel, ==, 0);
  g_assert_cmpuint (e->nbytes, ==, 0);
  gen_safetensors_to_f32 (e, f); /* writes nothing */

  e = gen_safetensors_find (st, "ids");
  g_assert_cmpint (e->dtype, ==, GEN_DTYPE_OTHER);
  g_assert_cmpstr (e->dtype_name, ==, "I64");
  g_assert_cmpuint (e->nbytes, ==, 8);
  g_assert_cmpuint (e->data[0], ==, 0x08);
  g_assert_cmpuint (e->data[7], ==, 0x01);

  e = gen_safetensors_find (st, "mask");
  g_assert_cmpint (e->dtype, ==, GEN_DTYPE_OTHER);
  g_assert_cmpstr (e->dtype_name, ==, "BOOL");
  g_assert_cmpuint (e->nbytes, ==, 1);
  g_assert_cmpuint (e->data[0], ==, 1);

  e = gen_safetensors_find (st, "odd");
  if (body != NULL)
    {
      g_assert_true (e->data == body + 53);
      g_assert_cmpuint (GPOINTER_TO_SIZE (e->data) % 4, !=, 0);
    }
  gen_safetensors_to_f32 (e, f);
  g_assert_cmpfloat (f[0], ==, 3.0f);
  g_assert_cmpfloat (f[1], ==, -7.5f);
}

static void
test_valid_file (void)
{
  char *dir = tmp_dir_new ();
  GByteArray *body = valid_body ();
  GByteArray *img;
  GenSafetensors *st;
  GError *error = NULL;
  char *path;
  guint8 *copy;
  gsize shift;
  path = write_st (dir, "valid.safetensors", valid_header, body->data, body->len);
  st = gen_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (st);
  check_valid (st, NULL);
  g_assert_cmpstr (gen_safetensors_find (st, "f32")->file, ==, path);
  gen_safetensors_free (st);

  /* the same image from memory, placed so that "odd" is 1 byte past a
   * 4-byte boundary (g_malloc memory is at least 8-byte aligned) */
  img = make_st (valid_header, FALSE, 0, body->data, body->len);
  shift = (4 + 1 - (8 + strlen (valid_header) + 53) % 4) % 4;
  copy = g_malloc (img->len + shift);
  memcpy (copy + shift, img->data, img->len);
  st = gen_safetensors_open_bytes (copy + shift, img->len, "mem", &error);
  g_assert_no_error (error);
  check_valid (st, copy + shift + 8 + strlen (valid_header));
  g_assert_cmpstr (gen_safetensors_find (st, "odd")->file, ==, "mem");
  gen_safetensors_free (st);

  g_free (copy);
  g_byte_array_unref (img);
  g_byte_array_unref (body);
  g_free (path);
  tmp_dir_remove (dir);
}

/* "__metadata__" is skipped whatever it holds; holes between tensors, a
 * padded header and bytes after the last tensor are all fine. */
static void
test_metadata_and_holes (void)
{
  static const char *const headers[] = {
    ("{\"__metadata__\":[1,{\"x\":null}],\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
     "\"data_offsets\":[4,8]}}"),
    "{\"__metadata__\":5,\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}   ",
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},\"__metadata__\":null}",
  };
  const guint8 body[12] = { 0, 0, 0, 0, 0, 0, 0x80, 0x3F, 9, 9, 9, 9 };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (headers); i++)
    {
      GByteArray *img = make_st (headers[i], FALSE, 0, body, sizeof body);
      GError *error = NULL;
      GenSafetensors *st = gen_safetensors_open_bytes (img->data, img->len, "meta", &error);
      float f;

      g_assert_no_error (error);
      g_assert_cmpuint (gen_safetensors_count (st), ==, 1);
      gen_safetensors_to_f32 (gen_safetensors_nth (st, 0), &f);
      g_assert_cmpfloat (f, ==, 1.0f);
      gen_safetensors_free (st);
      g_byte_array_unref (img);
    }
}

/* ---- writing ---------------------------------------------------------------- */

static void
test_write_round_trip (void)
{
  char *dir = tmp_dir_new ();
  char *path = g_build_filename (dir, "out.safetensors", NULL);
  const float w[6] = { 1.0f, -0.0f, 1e-45f, 3.5f, -1e30f, 0.1f };
  const float b[1] = { 7.25f };
  const float s[1] = { -42.0f };
  const int64_t w_shape[2] = { 2, 3 }, b_shape[1] = { 1 }, e_shape[2] = { 0, 5 };
  const char *const names[4] = { "down_blocks.0.conv.weight", "a \"quoted\"\n name", "scalar",
                                 "empty" };
  const float *const data[4] = { w, b, s, NULL };
  const int ndims[4] = { 2, 1, 0, 2 };
  const int64_t *const shapes[4] = { w_shape, b_shape, NULL, e_shape };
  GError *error = NULL;
  GenSafetensors *st;
  const GenSafetensorsEntry *e;
  char *contents;
  gsize len;
  guint64 hlen = 0;
  float f[6];
  int i;

  g_assert_true (gen_safetensors_write_f32 (path, 4, names, data, ndims, shapes, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tmp_dir_count (dir), ==, 1); /* no temp file left */

  /* the header is space-padded so the data starts 8-byte aligned */
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  for (i = 0; i < 8; i++)
    hlen |= (guint64) (guint8) contents[i] << (8 * i);
  g_assert_cmpuint (hlen % 8, ==, 0);
  g_assert_cmpuint (len, ==, 8 + hlen + 4 * (6 + 1 + 1));
  g_assert_cmpint (contents[8], ==, '{');
  g_free (contents);

  st = gen_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gen_safetensors_count (st), ==, 4);

  e = gen_safetensors_find (st, names[0]);
  g_assert_nonnull (e);
  g_assert_cmpint (e->dtype, ==, GEN_DTYPE_F32);
  g_assert_cmpint (e->ndim, ==, 2);
  g_assert_cmpint (e->shape[0], ==, 2);
  g_assert_cmpint (e->shape[1], ==, 3);
  gen_safetensors_to_f32 (e, f);
  for (i = 0; i < 6; i++)
    g_assert_cmphex (f32_bits (f[i]), ==, f32_bits (w[i]));

  e = gen_safetensors_find (st, names[1]);
  g_assert_nonnull (e);
  gen_safetensors_to_f32 (e, f);
  g_assert_cmpfloat (f[0], ==, 7.25f);

  e = gen_safetensors_find (st, "scalar");
  g_assert_cmpint (e->ndim, ==, 0);
  gen_safetensors_to_f32 (e, f);
  g_assert_cmpfloat (f[0], ==, -42.0f);

  e = gen_safetensors_find (st, "empty");
  g_assert_cmpint (e->numel, ==, 0);
  g_assert_cmpint (e->shape[1], ==, 5);
  gen_safetensors_free (st);

  /* overwriting replaces the file */
  g_assert_true (gen_safetensors_write_f32 (path, 1, names + 2, data + 2, ndims + 2,
                                            shapes + 2, &error));
  st = gen_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gen_safetensors_count (st), ==, 1);
  gen_safetensors_free (st);

  /* no tensors at all is a valid file */
  g_assert_true (gen_safetensors_write_f32 (path, 0, NULL, NULL, NULL, NULL, &error));
  st = gen_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gen_safetensors_count (st), ==, 0);
  gen_safetensors_free (st);

  g_free (path);
  tmp_dir_remove (dir);
}

static void
test_write_failures (void)
{
  char *dir = tmp_dir_new ();
  char *path = g_build_filename (dir, "bad.safetensors", NULL);
  char *nodir = g_build_filename (dir, "missing-folder", "x.safetensors", NULL);
  const float v[2] = { 1.0f, 2.0f };
  const int64_t neg[1] = { -2 }, two[1] = { 2 }, huge[2] = { G_MAXINT64, 4 };
  const char *const names[2] = { "w", "w" };
  const float *const data[2] = { v, v };
  const int ndims[2] = { 1, 1 };
  const int64_t *const shapes_neg[2] = { neg, two };
  const int64_t *const shapes_ok[2] = { two, two };
  const int64_t *const shapes_huge[1] = { huge };
  const int ndims_huge[1] = { 2 };
  const int ndims_many[1] = { GEN_SAFETENSORS_MAX_DIMS + 1 };
  GError *error = NULL;

  g_assert_false (gen_safetensors_write_f32 (nodir, 1, names, data, ndims, shapes_ok, &error));
  assert_error (error, GEN_ERROR_IO, "x.safetensors", NULL, NULL);
  g_clear_error (&error);

  g_assert_false (gen_safetensors_write_f32 (path, 1, names, data, ndims, shapes_neg, &error));
  assert_error (error, GEN_ERROR_INVALID, "bad.safetensors", "'w'", NULL);
  g_clear_error (&error);

  g_assert_false (gen_safetensors_write_f32 (path, 2, names, data, ndims, shapes_ok, &error));
  assert_error (error, GEN_ERROR_INVALID, "bad.safetensors", "'w'", NULL);
  g_clear_error (&error);

  g_assert_false (gen_safetensors_write_f32 (path, 1, names, data, ndims_huge, shapes_huge,
                                             &error));
  assert_error (error, GEN_ERROR_INVALID, "bad.safetensors", NULL, NULL);
  g_clear_error (&error);

  g_assert_false (gen_safetensors_write_f32 (path, 1, names, data, ndims_many, shapes_ok,
                                             &error));
  assert_error (error, GEN_ERROR_INVALID, "bad.safetensors", NULL, NULL);
  g_clear_error (&error);

  /* nothing at PATH, no temp file */
  g_assert_cmpuint (tmp_dir_count (dir), ==, 0);

  g_free (nodir);
  g_free (path);
  tmp_dir_remove (dir);
}

/* ---- sharded checkpoints ------------------------------------------------------ */

static const char shard1_header[] =
  "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
static const char shard2_header[] =
  "{\"b.bias\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
  "\"c\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[2,4]}}";
static const guint8 shard1_body[8] = { 0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0 }; /* 1, -2 */
static const guint8 shard2_body[4] = { 0x00, 0x3C, 0x80, 0x3F };         /* 1, 1 */

static void
write_shards (const char *dir)
{
  g_free (write_st (dir, "model-00001-of-00002.safetensors", shard1_header, shard1_body, 8));
  g_free (write_st (dir, "model-00002-of-00002.safetensors", shard2_header, shard2_body, 4));
}

static void
test_sharded (void)
{
  char *dir = tmp_dir_new ();
  const char *index =
    "{\"metadata\":{\"total_size\":12},\"weight_map\":{"
    "\"a.weight\":\"model-00001-of-00002.safetensors\","
    "\"b.bias\":\"model-00002-of-00002.safetensors\","
    "\"c\":\"model-00002-of-00002.safetensors\"}}";
  char *path;
  GError *error = NULL;
  GenSafetensors *st;
  const GenSafetensorsEntry *e;
  float f[2];

  write_shards (dir);
  path = write_file (dir, "model.safetensors.index.json", index, strlen (index));
  st = gen_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (st);
  g_assert_cmpuint (gen_safetensors_count (st), ==, 3);
  g_assert_cmpstr (gen_safetensors_nth (st, 0)->name, ==, "a.weight");
  g_assert_cmpstr (gen_safetensors_nth (st, 1)->name, ==, "b.bias");
  g_assert_cmpstr (gen_safetensors_nth (st, 2)->name, ==, "c");

  e = gen_safetensors_find (st, "a.weight");
  g_assert_true (g_str_has_suffix (e->file, "model-00001-of-00002.safetensors"));
  gen_safetensors_to_f32 (e, f);
  g_assert_cmpfloat (f[0], ==, 1.0f);
  g_assert_cmpfloat (f[1], ==, -2.0f);
  e = gen_safetensors_find (st, "b.bias");
  g_assert_true (g_str_has_suffix (e->file, "model-00002-of-00002.safetensors"));
  gen_safetensors_to_f32 (e, f);
  g_assert_cmpfloat (f[0], ==, 1.0f);
  e = gen_safetensors_find (st, "c");
  gen_safetensors_to_f32 (e, f);
  g_assert_cmpfloat (f[0], ==, 1.0f);
  gen_safetensors_free (st);

  g_free (path);
  tmp_dir_remove (dir);
}

typedef struct
{
  const char *test;
  const char *index;
  int         code;
  const char *needle1, *needle2;
} BadIndex;

static const BadIndex bad_indexes[] = {
  { "missing-shard",
    "{\"weight_map\":{\"a.weight\":\"model-00001-of-00002.safetensors\","
    "\"z\":\"nope.safetensors\"}}",
    GEN_ERROR_IO, "nope.safetensors", NULL },
  { "traversal",
    "{\"weight_map\":{\"a.weight\":\"../x.safetensors\"}}",
    GEN_ERROR_FORMAT, "../x.safetensors", "'a.weight'" },
  { "absolute",
    "{\"weight_map\":{\"a.weight\":\"/etc/passwd\"}}",
    GEN_ERROR_FORMAT, "/etc/passwd", NULL },
  { "not-in-shard",
    "{\"weight_map\":{\"a.weight\":\"model-00001-of-00002.safetensors\","
    "\"ghost\":\"model-00001-of-00002.safetensors\"}}",
    GEN_ERROR_FORMAT, "'ghost'", "model-00001-of-00002.safetensors" },
  { "wrong-shard",
    "{\"weight_map\":{\"a.weight\":\"model-00001-of-00002.safetensors\","
    "\"c\":\"model-00001-of-00002.safetensors\","
    "\"b.bias\":\"model-00002-of-00002.safetensors\"}}",
    GEN_ERROR_FORMAT, "'c'", "model-00002-of-00002.safetensors" },
  { "in-two-shards",
    "{\"weight_map\":{\"a.weight\":\"model-00001-of-00002.safetensors\","
    "\"b.bias\":\"dup.safetensors\"}}",
    GEN_ERROR_FORMAT, "model-00001-of-00002.safetensors", "dup.safetensors" },
  { "no-weight-map", "{\"metadata\":{}}", GEN_ERROR_FORMAT, "weight_map", NULL },
  { "weight-map-array", "{\"weight_map\":[1]}", GEN_ERROR_FORMAT, "weight_map", NULL },
  { "shard-not-string", "{\"weight_map\":{\"a.weight\":3}}", GEN_ERROR_FORMAT, "'a.weight'",
    NULL },
  { "not-json", "{\"weight_map\":", GEN_ERROR_FORMAT, "JSON", NULL },
  { "bad-shard", "{\"weight_map\":{\"a.weight\":\"bad.safetensors\"}}", GEN_ERROR_FORMAT,
    "bad.safetensors", "too short" },
};

static void
test_bad_index (gconstpointer data)
{
  const BadIndex *c = data;
  char *dir = tmp_dir_new ();
  char *path;
  GError *error = NULL;
  GenSafetensors *st;
  /* shares a.weight with shard 1, and holds b.bias */
  const char *dup_header =
    "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b.bias\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[8,10]}}";
  guint8 dup_body[10] = { 0 };

  write_shards (dir);
  g_free (write_st (dir, "dup.safetensors", dup_header, dup_body, sizeof dup_body));
  g_free (write_file (dir, "bad.safetensors", "\x01\x02", 2));
  path = write_file (dir, "model.safetensors.index.json", c->index, strlen (c->index));
  st = gen_safetensors_open (path, &error);
  g_assert_null (st);
  assert_error (error, c->code, "model.safetensors.index.json", c->needle1, c->needle2);
  g_error_free (error);

  g_free (path);
  tmp_dir_remove (dir);
}

/* ---- bad single files ------------------------------------------------------------ */

typedef struct
{
  const char *test;
  const char *header;   /* NULL: the file is RAW[RAW_LEN] */
  gboolean    hlen_set; /* else the header length is strlen (header) */
  guint64     hlen;
  gsize       body_len; /* zero bytes after the header */
  const char *raw;
  gsize       raw_len;
  int         code;
  const char *needle1, *needle2;
} BadFile;

#define W_(dtype, shape, offsets) \
  "{\"w\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}}"

static const BadFile bad_files[] = {
  { "empty", NULL, FALSE, 0, 0, "", 0, GEN_ERROR_FORMAT, "too short", NULL },
  { "five-bytes", NULL, FALSE, 0, 0, "\x10\0\0\0\0", 5, GEN_ERROR_FORMAT, "too short", NULL },
  { "truncated", W_ ("F32", "[4]", "[0,16]"), FALSE, 0, 10, NULL, 0, GEN_ERROR_FORMAT, "'w'",
    "past the end" },
  { "header-beyond-file", "{}", TRUE, 1000, 16, NULL, 0, GEN_ERROR_FORMAT, "1000", NULL },
  { "header-length-absurd", "{}", TRUE, G_MAXUINT64, 16, NULL, 0, GEN_ERROR_FORMAT, "absurd",
    NULL },
  { "header-length-zero", "", FALSE, 0, 16, NULL, 0, GEN_ERROR_FORMAT, "JSON", NULL },
  { "header-not-json", "hello, world", FALSE, 0, 0, NULL, 0, GEN_ERROR_FORMAT, "JSON", NULL },
  { "header-array", "[1,2,3]", FALSE, 0, 0, NULL, 0, GEN_ERROR_FORMAT, "object", NULL },
  { "header-single-quotes", "{'w':1}", FALSE, 0, 0, NULL, 0, GEN_ERROR_FORMAT, "JSON", NULL },
  { "header-not-utf8", "{\"w\xff\":1}", FALSE, 0, 0, NULL, 0, GEN_ERROR_FORMAT, "UTF-8", NULL },
  { "header-control-byte", "{\"w\":1}\x01", FALSE, 0, 0, NULL, 0, GEN_ERROR_FORMAT, "JSON",
    NULL },
  { "header-nul", NULL, FALSE, 0, 0, "\x08\0\0\0\0\0\0\0{\"w\":1}\0", 16, GEN_ERROR_FORMAT,
    "NUL", NULL },
  { "entry-not-object", "{\"w\":5}", FALSE, 0, 0, NULL, 0, GEN_ERROR_FORMAT, "'w'", NULL },
  { "missing-data-offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", FALSE, 0, 4, NULL, 0,
    GEN_ERROR_FORMAT, "'w'", "data_offsets" },
  { "missing-dtype", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", FALSE, 0, 4, NULL, 0,
    GEN_ERROR_FORMAT, "'w'", "dtype" },
  { "missing-shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", FALSE, 0, 4, NULL, 0,
    GEN_ERROR_FORMAT, "'w'", "shape" },
  { "dtype-not-string", "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", FALSE, 0,
    4, NULL, 0, GEN_ERROR_FORMAT, "'w'", "dtype" },
  { "unknown-dtype", W_ ("F33", "[1]", "[0,4]"), FALSE, 0, 4, NULL, 0, GEN_ERROR_FORMAT,
    "'F33'", "'w'" },
  { "shape-negative", W_ ("F32", "[-1,4]", "[0,16]"), FALSE, 0, 16, NULL, 0, GEN_ERROR_FORMAT,
    "'w'", "shape" },
  { "shape-float", W_ ("F32", "[2.0]", "[0,8]"), FALSE, 0, 8, NULL, 0, GEN_ERROR_FORMAT, "'w'",
    "shape" },
  { "shape-overflow-u64", W_ ("F32", "[4294967296,4294967296,2]", "[0,0]"), FALSE, 0, 0, NULL,
    0, GEN_ERROR_FORMAT, "'w'", "overflow" },
  { "shape-overflow-i64", W_ ("F32", "[3037000500,3037000500]", "[0,0]"), FALSE, 0, 0, NULL, 0,
    GEN_ERROR_FORMAT, "'w'", "overflow" },
  { "shape-bytes-overflow", W_ ("F64", "[4611686018427387904]", "[0,0]"), FALSE, 0, 0, NULL, 0,
    GEN_ERROR_FORMAT, "'w'", NULL },
  { "shape-huge-literal", W_ ("F32", "[99999999999999999999]", "[0,4]"), FALSE, 0, 4, NULL, 0,
    GEN_ERROR_FORMAT, "range", NULL },
  { "shape-negative-huge-literal", W_ ("F32", "[-99999999999999999999]", "[0,4]"), FALSE, 0, 4,
    NULL, 0, GEN_ERROR_FORMAT, "range", NULL },
  { "too-many-dims", W_ ("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), FALSE, 0, 4, NULL, 0,
    GEN_ERROR_FORMAT, "'w'", "dimensions" },
  { "offsets-outside", W_ ("F32", "[100]", "[0,400]"), FALSE, 0, 16, NULL, 0, GEN_ERROR_FORMAT,
    "'w'", "past the end" },
  { "offsets-negative", W_ ("F32", "[1]", "[-4,0]"), FALSE, 0, 16, NULL, 0, GEN_ERROR_FORMAT,
    "'w'", "data_offsets" },
  { "offsets-three", W_ ("F32", "[1]", "[0,4,8]"), FALSE, 0, 16, NULL, 0, GEN_ERROR_FORMAT,
    "'w'", "data_offsets" },
  { "offsets-huge", W_ ("U8", "[1]", "[9223372036854775806,9223372036854775807]"), FALSE, 0, 16,
    NULL, 0, GEN_ERROR_FORMAT, "'w'", "past the end" },
  { "begin-after-end", W_ ("F32", "[1]", "[8,4]"), FALSE, 0, 16, NULL, 0, GEN_ERROR_FORMAT,
    "'w'", "after end" },
  { "size-mismatch", W_ ("F32", "[2,2]", "[0,12]"), FALSE, 0, 16, NULL, 0, GEN_ERROR_FORMAT,
    "'w'", "shape [2, 2] of F32 needs 16 bytes" },
  { "overlap",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
    FALSE, 0, 24, NULL, 0, GEN_ERROR_FORMAT, "'a'", "'b'" },
  { "overlap-same",
    "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
    "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    FALSE, 0, 8, NULL, 0, GEN_ERROR_FORMAT, "'a'", "'b'" },
  { "duplicate-name",
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
    "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
    FALSE, 0, 8, NULL, 0, GEN_ERROR_FORMAT, "'w'", "twice" },
};

static char *
deep_header (guint depth)
{
  GString *s = g_string_new ("{\"w\":");
  guint i;

  for (i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  for (i = 0; i < depth; i++)
    g_string_append_c (s, ']');
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

static void
test_bad_file (gconstpointer data)
{
  const BadFile *c = data;
  char *dir = tmp_dir_new ();
  char *name = g_strconcat (c->test, ".safetensors", NULL);
  char *path;
  GByteArray *img;
  GError *error = NULL;
  GenSafetensors *st;

  if (c->header != NULL)
    img = make_st (c->header, c->hlen_set, c->hlen, NULL, c->body_len);
  else
    {
      img = g_byte_array_new ();
      g_byte_array_append (img, (const guint8 *) c->raw, (guint) c->raw_len);
    }
  path = write_file (dir, name, img->data, img->len);

  st = gen_safetensors_open (path, &error);
  g_assert_null (st);
  assert_error (error, c->code, path, c->needle1, c->needle2);
  g_clear_error (&error);

  st = gen_safetensors_open_bytes (img->data, img->len, name, &error);
  g_assert_null (st);
  assert_error (error, c->code, name, c->needle1, c->needle2);
  g_clear_error (&error);

  g_byte_array_unref (img);
  g_free (path);
  g_free (name);
  tmp_dir_remove (dir);
}

static void
test_bad_deep (void)
{
  char *header = deep_header (100000);
  GByteArray *img = make_st (header, FALSE, 0, NULL, 0);
  GError *error = NULL;

  g_assert_null (gen_safetensors_open_bytes (img->data, img->len, "deep.safetensors", &error));
  assert_error (error, GEN_ERROR_FORMAT, "deep.safetensors", "deeper", NULL);
  g_error_free (error);
  g_byte_array_unref (img);
  g_free (header);
}

static void
test_bad_paths (void)
{
  char *dir = tmp_dir_new ();
  char *missing = g_build_filename (dir, "missing.safetensors", NULL);
  char *missing_index = g_build_filename (dir, "missing.safetensors.index.json", NULL);
  char *sub = g_build_filename (dir, "folder.safetensors", NULL);
  GError *error = NULL;

  g_assert_null (gen_safetensors_open (missing, &error));
  assert_error (error, GEN_ERROR_IO, missing, NULL, NULL);
  g_clear_error (&error);

  g_assert_null (gen_safetensors_open (missing_index, &error));
  assert_error (error, GEN_ERROR_IO, missing_index, NULL, NULL);
  g_clear_error (&error);

  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  g_assert_null (gen_safetensors_open (sub, &error));
  assert_error (error, GEN_ERROR_IO, sub, NULL, NULL);
  g_clear_error (&error);

#ifdef G_OS_UNIX
  {
    /* a FIFO is refused, not opened (which would block) */
    char *fifo = g_build_filename (dir, "pipe.safetensors", NULL);

    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    g_assert_null (gen_safetensors_open (fifo, &error));
    assert_error (error, GEN_ERROR_IO, fifo, "regular", NULL);
    g_clear_error (&error);
    g_assert_null (gen_config_load (fifo, &error));
    assert_error (error, GEN_ERROR_IO, fifo, "regular", NULL);
    g_clear_error (&error);
    g_free (fifo);
  }
#endif

  g_free (sub);
  g_free (missing_index);
  g_free (missing);
  tmp_dir_remove (dir);
}

/* ---- config.json ------------------------------------------------------------------ */

static const char config_json[] =
  "{\n"
  "  \"_class_name\": \"UNet2DModel\",\n"
  "  \"_diffusers_version\": \"0.30.0\",\n"
  "  \"sample_size\": 32,\n"
  "  \"in_channels\": 3.0,\n"
  "  \"norm_eps\": 1e-05,\n"
  "  \"scale\": 2,\n"
  "  \"neg\": -7,\n"
  "  \"flag\": true,\n"
  "  \"frac\": 32.5,\n"
  "  \"big\": 1e300,\n"
  "  \"name\": \"x\",\n"
  "  \"act\": null,\n"
  "  \"block_out_channels\": [32, 64, 64.0],\n"
  "  \"eps_list\": [1, 0.5],\n"
  "  \"down_block_types\": [\"DownBlock2D\", \"AttnDownBlock2D\"],\n"
  "  \"empty\": [],\n"
  "  \"nested\": {\"a\": 1}\n"
  "}\n";

static void
test_config_valid (void)
{
  char *dir = tmp_dir_new ();
  char *path = write_file (dir, "config.json", config_json, strlen (config_json));
  GError *error = NULL;
  GenConfig *cfg;
  gint64 i, *iv = NULL;
  double d, *dv = NULL;
  gboolean b;
  const char *s;
  char **sv = NULL;
  guint n;

  cfg = gen_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cfg);
  g_assert_cmpstr (gen_config_path (cfg), ==, path);
  g_assert_cmpstr (gen_config_class_name (cfg), ==, "UNet2DModel");

  g_assert_true (gen_config_get_int (cfg, "sample_size", FALSE, 0, &i, &error));
  g_assert_cmpint (i, ==, 32);
  g_assert_true (gen_config_get_int (cfg, "in_channels", FALSE, 0, &i, &error)); /* 3.0 */
  g_assert_cmpint (i, ==, 3);
  g_assert_true (gen_config_get_int (cfg, "neg", FALSE, 0, &i, &error));
  g_assert_cmpint (i, ==, -7);
  g_assert_true (gen_config_get_int (cfg, "layers_per_block", TRUE, 2, &i, &error));
  g_assert_cmpint (i, ==, 2);
  g_assert_true (gen_config_get_int (cfg, "act", TRUE, 5, &i, &error)); /* null -> default */
  g_assert_cmpint (i, ==, 5);

  g_assert_true (gen_config_get_double (cfg, "norm_eps", FALSE, 0, &d, &error));
  g_assert_cmpfloat (d, ==, 1e-05);
  g_assert_true (gen_config_get_double (cfg, "scale", FALSE, 0, &d, &error));
  g_assert_cmpfloat (d, ==, 2.0);
  g_assert_true (gen_config_get_double (cfg, "missing", TRUE, 0.25, &d, &error));
  g_assert_cmpfloat (d, ==, 0.25);

  g_assert_true (gen_config_get_bool (cfg, "flag", FALSE, FALSE, &b, &error));
  g_assert_true (b);
  g_assert_true (gen_config_get_bool (cfg, "missing", TRUE, FALSE, &b, &error));
  g_assert_false (b);

  g_assert_true (gen_config_get_string (cfg, "name", FALSE, NULL, &s, &error));
  g_assert_cmpstr (s, ==, "x");
  g_assert_true (gen_config_get_string (cfg, "missing", TRUE, NULL, &s, &error));
  g_assert_null (s);
  g_assert_true (gen_config_get_string (cfg, "act", TRUE, "silu", &s, &error));
  g_assert_cmpstr (s, ==, "silu");
  g_assert_no_error (error);

  g_assert_true (gen_config_get_int_array (cfg, "block_out_channels", &iv, &n, &error));
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpint (iv[0], ==, 32);
  g_assert_cmpint (iv[1], ==, 64);
  g_assert_cmpint (iv[2], ==, 64);
  g_free (iv);
  g_assert_true (gen_config_get_double_array (cfg, "eps_list", &dv, &n, &error));
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpfloat (dv[0], ==, 1.0);
  g_assert_cmpfloat (dv[1], ==, 0.5);
  g_free (dv);
  g_assert_true (gen_config_get_string_array (cfg, "down_block_types", &sv, &n, &error));
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpstr (sv[0], ==, "DownBlock2D");
  g_assert_cmpstr (sv[1], ==, "AttnDownBlock2D");
  g_assert_null (sv[2]);
  g_strfreev (sv);
  g_assert_true (gen_config_get_string_array (cfg, "empty", &sv, &n, &error));
  g_assert_cmpuint (n, ==, 0);
  g_assert_null (sv[0]);
  g_strfreev (sv);
  g_assert_no_error (error);

  g_assert_true (gen_config_has (cfg, "flag"));
  g_assert_false (gen_config_has (cfg, "act"));
  g_assert_false (gen_config_has (cfg, "missing"));
  g_assert_true (gen_config_is_null (cfg, "act"));
  g_assert_true (gen_config_is_null (cfg, "missing"));
  g_assert_false (gen_config_is_null (cfg, "sample_size"));

  gen_config_free (cfg);
  g_free (path);
  tmp_dir_remove (dir);
}

static void
test_config_errors (void)
{
  GError *error = NULL;
  GenConfig *cfg = gen_config_load_from_data (config_json, -1, "unet/config.json", &error);
  gint64 i = 99, *iv = NULL;
  double d = 99, *dv = NULL;
  gboolean b = 7;
  const char *s = "untouched";
  char **sv = NULL;
  guint n = 99;

  g_assert_no_error (error);

  g_assert_false (gen_config_get_int (cfg, "layers_per_block", FALSE, 0, &i, &error));
  assert_error (error, GEN_ERROR_MISSING, "unet/config.json: required key 'layers_per_block' "
                "is missing", NULL, NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_double (cfg, "act", FALSE, 0, &d, &error)); /* null */
  assert_error (error, GEN_ERROR_MISSING, "unet/config.json", "'act'", NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_bool (cfg, "nope", FALSE, FALSE, &b, &error));
  assert_error (error, GEN_ERROR_MISSING, "'nope'", NULL, NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_string (cfg, "nope", FALSE, NULL, &s, &error));
  assert_error (error, GEN_ERROR_MISSING, "'nope'", NULL, NULL);
  g_clear_error (&error);

  g_assert_false (gen_config_get_int (cfg, "name", FALSE, 0, &i, &error));
  assert_error (error, GEN_ERROR_FORMAT,
                "unet/config.json: key 'name' must be an integer (found string)", NULL, NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_int (cfg, "frac", TRUE, 0, &i, &error)); /* 32.5 */
  assert_error (error, GEN_ERROR_FORMAT, "'frac' must be an integer", "32.5", NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_int (cfg, "big", TRUE, 0, &i, &error)); /* 1e300 */
  assert_error (error, GEN_ERROR_FORMAT, "'big' must be an integer", NULL, NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_int (cfg, "flag", TRUE, 0, &i, &error));
  assert_error (error, GEN_ERROR_FORMAT, "must be an integer (found boolean)", NULL, NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_int (cfg, "nested", TRUE, 0, &i, &error));
  assert_error (error, GEN_ERROR_FORMAT, "must be an integer (found object)", NULL, NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_double (cfg, "name", TRUE, 0, &d, &error));
  assert_error (error, GEN_ERROR_FORMAT, "'name' must be a number (found string)", NULL, NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_bool (cfg, "scale", TRUE, FALSE, &b, &error));
  assert_error (error, GEN_ERROR_FORMAT, "'scale' must be a boolean (found integer)", NULL,
                NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_string (cfg, "block_out_channels", TRUE, NULL, &s, &error));
  assert_error (error, GEN_ERROR_FORMAT, "must be a string (found array)", NULL, NULL);
  g_clear_error (&error);

  g_assert_false (gen_config_get_int_array (cfg, "eps_list", &iv, &n, &error));
  assert_error (error, GEN_ERROR_FORMAT, "'eps_list' must be an array of integers",
                "index 1", NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_int_array (cfg, "name", &iv, &n, &error));
  assert_error (error, GEN_ERROR_FORMAT, "must be an array of integers (found string)", NULL,
                NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_int_array (cfg, "nope", &iv, &n, &error));
  assert_error (error, GEN_ERROR_MISSING, "'nope'", NULL, NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_double_array (cfg, "down_block_types", &dv, &n, &error));
  assert_error (error, GEN_ERROR_FORMAT, "(found string at index 0)", NULL, NULL);
  g_clear_error (&error);
  g_assert_false (gen_config_get_string_array (cfg, "block_out_channels", &sv, &n, &error));
  assert_error (error, GEN_ERROR_FORMAT, "must be an array of strings (found integer at "
                "index 0)", NULL, NULL);
  g_clear_error (&error);

  /* outputs untouched on failure */
  g_assert_cmpint (i, ==, 99);
  g_assert_cmpfloat (d, ==, 99);
  g_assert_cmpint (b, ==, 7);
  g_assert_cmpstr (s, ==, "untouched");
  g_assert_null (iv);
  g_assert_null (dv);
  g_assert_null (sv);
  g_assert_cmpuint (n, ==, 99);
  gen_config_free (cfg);

  /* _class_name absent or not a string */
  cfg = gen_config_load_from_data ("{\"_class_name\": 3}", -1, "c.json", &error);
  g_assert_no_error (error);
  g_assert_null (gen_config_class_name (cfg));
  gen_config_free (cfg);
  cfg = gen_config_load_from_data ("{}", 2, "c.json", &error);
  g_assert_no_error (error);
  g_assert_null (gen_config_class_name (cfg));
  gen_config_free (cfg);
}

typedef struct
{
  const char *test;
  const char *text;
  const char *needle;
} BadConfig;

static const BadConfig bad_configs[] = {
  { "not-json", "{\"a\": 1,,}", "not valid JSON" },
  { "garbage", "hello", "not valid JSON" },
  { "empty", "", "not valid JSON" },
  { "root-array", "[1, 2]", "not valid JSON: the top level must be an object (found array)" },
  { "root-string", "\"x\"", "object" },
  { "single-quotes", "{'a': 1}", "not valid JSON" },
  { "hex", "{\"a\": 0x10}", "not valid JSON" },
  { "nan", "{\"a\": NaN}", "not valid JSON" },
  { "trailing", "{\"a\": 1} x", "after the end" },
  { "unterminated", "{\"a\": \"x", "unterminated" },
  { "int-too-big", "{\"a\": 9223372036854775808}", "range" },
  { "nul-escape", "{\"a\": \"x\\u0000y\"}", "u0000" },
  { "lone-surrogate", "{\"a\": \"\\udc00\"}", "surrogate" },
};

static void
test_config_bad_file (gconstpointer data)
{
  const BadConfig *c = data;
  char *dir = tmp_dir_new ();
  char *path = write_file (dir, "config.json", c->text, strlen (c->text));
  GError *error = NULL;

  g_assert_null (gen_config_load (path, &error));
  assert_error (error, GEN_ERROR_FORMAT, path, c->needle, NULL);
  g_error_free (error);
  g_free (path);
  tmp_dir_remove (dir);
}

static void
test_config_bad_paths (void)
{
  char *dir = tmp_dir_new ();
  char *missing = g_build_filename (dir, "config.json", NULL);
  GError *error = NULL;
  GString *deep = g_string_new (NULL);
  GenConfig *cfg;
  guint k;

  g_assert_null (gen_config_load (missing, &error));
  assert_error (error, GEN_ERROR_IO, missing, NULL, NULL);
  g_clear_error (&error);
  g_assert_null (gen_config_load (dir, &error));
  assert_error (error, GEN_ERROR_IO, dir, NULL, NULL);
  g_clear_error (&error);

  /* deep nesting is refused, not recursed into */
  for (k = 0; k < 100000; k++)
    g_string_append (deep, "{\"a\":");
  g_assert_null (gen_config_load_from_data (deep->str, (gssize) deep->len, "deep.json", &error));
  assert_error (error, GEN_ERROR_FORMAT, "deep.json", "deeper", NULL);
  g_clear_error (&error);
  g_string_free (deep, TRUE);

  /* the length is honoured: the bytes after it are not read */
  cfg = gen_config_load_from_data ("{\"a\":1}garbage", 7, "len.json", &error);
  g_assert_no_error (error);
  g_assert_true (gen_config_has (cfg, "a"));
  gen_config_free (cfg);

  g_free (missing);
  tmp_dir_remove (dir);
}

static void
test_json_check (void)
{
  static const char *const good[] = {
    "{}", " [ ] ", "0", "-0", "-9223372036854775808", "9223372036854775807", "1.5e-3",
    "1E+400", "[true,false,null,\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"]", "\"\\ud83d\\ude00\"",
    "{\"a\":{\"b\":[1,{\"c\":[]}]}}", "\"\xc3\xa9\"",
  };
  static const char *const bad[] = {
    "", " ", "01", "1.", "-", "+1", ".5", "1e", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "{,}", "[",
    "]", "tru", "nul", "\"a\tb\"", "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ud83d\\u0041\"",
    "9223372036854775808", "-9223372036854775809", "{1:2}", "[1 2]", "{} {}", "\"\xff\"",
  };
  GError *error = NULL;
  char *deep_ok, *deep_bad;
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (good); i++)
    {
      if (!gen_json_check (good[i], strlen (good[i]), &error))
        g_error ("rejected %s: %s", good[i], error->message);
    }
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      if (gen_json_check (bad[i], strlen (bad[i]), &error))
        g_error ("accepted %s", bad[i]);
      g_assert_error (error, GEN_ERROR, GEN_ERROR_FORMAT);
      g_clear_error (&error);
    }
  g_assert_false (gen_json_check ("[1]\0", 4, &error)); /* a NUL byte */
  g_clear_error (&error);

  deep_ok = deep_header (GEN_JSON_MAX_DEPTH - 1); /* plus the outer object */
  deep_bad = deep_header (GEN_JSON_MAX_DEPTH);
  g_assert_true (gen_json_check (deep_ok, strlen (deep_ok), &error));
  g_assert_false (gen_json_check (deep_bad, strlen (deep_bad), &error));
  assert_error (error, GEN_ERROR_FORMAT, "line 1, column", "deeper", NULL);
  g_clear_error (&error);
  g_free (deep_ok);
  g_free (deep_bad);
}

int
main (int argc, char **argv)
{
  gsize i;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/io/f16", test_f16_bits);
  g_test_add_func ("/io/bf16", test_bf16_bits);
  g_test_add_func ("/io/safetensors/valid", test_valid_file);
  g_test_add_func ("/io/safetensors/metadata-and-holes", test_metadata_and_holes);
  g_test_add_func ("/io/safetensors/write-round-trip", test_write_round_trip);
  g_test_add_func ("/io/safetensors/write-failures", test_write_failures);
  g_test_add_func ("/io/safetensors/sharded", test_sharded);
  for (i = 0; i < G_N_ELEMENTS (bad_indexes); i++)
    {
      char *name = g_strconcat ("/io/safetensors/bad-index/", bad_indexes[i].test, NULL);
      g_test_add_data_func (name, &bad_indexes[i], test_bad_index);
      g_free (name);
    }
  for (i = 0; i < G_N_ELEMENTS (bad_files); i++)
    {
      char *name = g_strconcat ("/io/safetensors/bad/", bad_files[i].test, NULL);
      g_test_add_data_func (name, &bad_files[i], test_bad_file);
      g_free (name);
    }
  g_test_add_func ("/io/safetensors/bad/deep-nesting", test_bad_deep);
  g_test_add_func ("/io/safetensors/bad/paths", test_bad_paths);

  g_test_add_func ("/io/json-check", test_json_check);
  g_test_add_func ("/io/config/valid", test_config_valid);
  g_test_add_func ("/io/config/errors", test_config_errors);
  for (i = 0; i < G_N_ELEMENTS (bad_configs); i++)
    {
      char *name = g_strconcat ("/io/config/bad/", bad_configs[i].test, NULL);
      g_test_add_data_func (name, &bad_configs[i], test_config_bad_file);
      g_free (name);
    }
  g_test_add_func ("/io/config/bad/paths", test_config_bad_paths);

  return g_test_run ();
}

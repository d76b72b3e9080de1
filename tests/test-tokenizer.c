/* test-tokenizer.c — the CLIP tokenizer on a hand-written vocabulary (SD 2.x's
 * "!" padding, truncation, the special tokens), finding a tokenizer in a
 * pipeline and the fallback, the shipped vocabulary, and the bad files it
 * must refuse with one clear error naming the file. */
#include "gen-error.h"
#include "gen-tokenizer.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* ids: ! a b c d e o r (0–7), the same with </w> (8–15), then merges */
static const char *tiny_vocab =
  "{\"!\": 0, \"a\": 1, \"b\": 2, \"c\": 3, \"d\": 4, \"e\": 5, \"o\": 6, \"r\": 7,"
  " \"!</w>\": 8, \"a</w>\": 9, \"b</w>\": 10, \"c</w>\": 11, \"d</w>\": 12, \"e</w>\": 13,"
  " \"o</w>\": 14, \"r</w>\": 15, \"ab\": 16, \"cd</w>\": 17, \"abcd</w>\": 18, \"!!</w>\": 19,"
  " \"<|startoftext|>\": 20, \"<|endoftext|>\": 21}";
static const char *tiny_merges = "#version: 0.2\na b\nc d</w>\nab cd</w>\n! !</w>\n";
static const char *sd2_special = "{\"pad_token\": \"!\", \"eos_token\": {\"content\": "
                                 "\"<|endoftext|>\", \"lstrip\": false}}";

/* Writes a tokenizer folder DIR/SUB with the files that are not NULL. */
static void
write_folder (const char *dir, const char *vocab, const char *merges, const char *config,
              const char *special)
{
  const char *names[4] = { "vocab.json", "merges.txt", "tokenizer_config.json",
                           "special_tokens_map.json" };
  const char *data[4] = { vocab, merges, config, special };

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  for (int i = 0; i < 4; i++)
    if (data[i])
      {
        char *path = g_build_filename (dir, names[i], NULL);
        g_assert_true (g_file_set_contents (path, data[i], -1, NULL));
        g_free (path);
      }
}

/* Removes DIR's files and subfolders (and frees DIR), which
 * tmp_dir_remove does only one level deep. */
static void
remove_tree (char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d && (name = g_dir_read_name (d)) != NULL)
    {
      char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        remove_tree (g_strdup (path));
      else
        g_remove (path);
      g_free (path);
    }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
  g_free (dir);
}

static GenTokenizer *
tiny (const char *config, const char *special, GError **error)
{
  return gen_tokenizer_new_from_data (tiny_vocab, strlen (tiny_vocab), tiny_merges,
                                      strlen (tiny_merges), config, config ? strlen (config) : 0,
                                      special, special ? strlen (special) : 0, "tiny", error);
}

static void
test_sd2_padding (void)
{
  GError *error = NULL;
  GenTokenizer *tok = tiny (NULL, sd2_special, &error);
  gint32 ids[77];
  gsize dropped = 99;

  g_assert_no_error (error);
  g_assert_cmpint (gen_tokenizer_pad_id (tok), ==, 0);
  g_assert_true (gen_tokenizer_encode (tok, "ABCD", ids, &dropped, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dropped, ==, 0);
  g_assert_cmpint (ids[0], ==, 20);
  g_assert_cmpint (ids[1], ==, 18);
  g_assert_cmpint (ids[2], ==, 21);
  for (int i = 3; i < 77; i++)
    g_assert_cmpint (ids[i], ==, 0);
  /* the pad token "!" is a special token: cut out before BPE, as in
   * diffusers' SD 2.x tokenizer ("!!" would otherwise be "!!</w>") */
  g_assert_true (gen_tokenizer_encode (tok, "!! abcd!", ids, NULL, &error));
  {
    const gint32 want[] = { 20, 0, 0, 18, 0, 21, 0 };
    for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
      g_assert_cmpint (ids[i], ==, want[i]);
  }
  gen_tokenizer_free (tok);

  /* SD 1.x style: pads with <|endoftext|>, "!!" is one BPE token */
  tok = tiny (NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (gen_tokenizer_encode (tok, "!! x", ids, NULL, &error));
  g_assert_cmpint (ids[1], ==, 19);
  g_assert_cmpint (ids[2], ==, 21); /* "x" is not in the vocabulary: unk */
  g_assert_cmpint (ids[3], ==, 21);
  g_assert_cmpint (ids[76], ==, 21);
  gen_tokenizer_free (tok);
}

static void
test_truncation (void)
{
  GError *error = NULL;
  GenTokenizer *tok = tiny ("{\"model_max_length\": 8}", NULL, &error);
  gint32 ids[8];
  gsize dropped = 0, n = 0;
  gint32 *raw;

  g_assert_no_error (error);
  g_assert_cmpint (gen_tokenizer_max_length (tok), ==, 8);
  g_assert_true (gen_tokenizer_encode (tok, "abcd abcd abcd abcd abcd abcd abcd abcd e", ids,
                                       &dropped, &error));
  g_assert_cmpuint (dropped, ==, 3);
  g_assert_cmpint (ids[6], ==, 18);
  g_assert_cmpint (ids[7], ==, 21);
  raw = gen_tokenizer_tokenize (tok, "", &n, &error);
  g_assert_nonnull (raw);
  g_assert_cmpuint (n, ==, 0);
  g_free (raw);
  g_assert_true (gen_tokenizer_encode (tok, " \t\n ", ids, &dropped, &error));
  g_assert_cmpuint (dropped, ==, 0);
  g_assert_cmpint (ids[1], ==, 21);

  /* prompts the tokenizer refuses */
  g_assert_false (gen_tokenizer_encode (tok, "ab\xff", ids, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  {
    char *big = g_strnfill (GEN_TOKENIZER_MAX_TEXT_BYTES + 1, 'a');
    g_assert_false (gen_tokenizer_encode (tok, big, ids, NULL, &error));
    g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
    g_clear_error (&error);
    g_free (big);
  }
  gen_tokenizer_free (tok);
}

static void
test_open (void)
{
  char *root = tmp_dir_new ();
  char *pipe = g_build_filename (root, "pipe", NULL);
  char *sub = g_build_filename (pipe, "tokenizer", NULL);
  char *empty = g_build_filename (root, "empty", NULL);
  char *shipped = g_build_filename (g_getenv ("GENERATIVE_SOURCE_ROOT"), "weights",
                                    "clip-tokenizer", NULL);
  GError *error = NULL;
  GenTokenizer *tok;
  gint32 ids[77];
  const gint32 cat[] = { 49406, 320, 1125, 539, 320, 2368, 49407, 49407 };

  write_folder (sub, tiny_vocab, tiny_merges, NULL, sd2_special);
  g_assert_cmpint (g_mkdir (empty, 0700), ==, 0);

  /* a pipeline folder and its tokenizer/ folder */
  tok = gen_tokenizer_open (pipe, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gen_tokenizer_path (tok), ==, sub);
  gen_tokenizer_free (tok);
  tok = gen_tokenizer_open (sub, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gen_tokenizer_pad_id (tok), ==, 0);
  gen_tokenizer_free (tok);

  /* no tokenizer: an error, or the fallback (the shipped vocabulary) */
  g_assert_null (gen_tokenizer_open (empty, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_MISSING);
  g_assert_nonnull (strstr (error->message, "no tokenizer"));
  g_clear_error (&error);
  g_assert_null (gen_tokenizer_open ("/nonexistent/model", shipped, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_IO);
  g_clear_error (&error);
  tok = gen_tokenizer_open (empty, shipped, &error);
  g_assert_no_error (error);
  g_assert_true (gen_tokenizer_encode (tok, "a photo of a CAT", ids, NULL, &error));
  for (gsize i = 0; i < G_N_ELEMENTS (cat); i++)
    g_assert_cmpint (ids[i], ==, cat[i]);
  g_assert_cmpint (gen_tokenizer_max_length (tok), ==, 77);
  gen_tokenizer_free (tok);

  g_free (shipped);
  g_free (empty);
  g_free (sub);
  g_free (pipe);
  remove_tree (root);
}

typedef struct
{
  const char *vocab, *merges, *config, *special;
  const char *file;  /* named in the message */
  const char *what;  /* also in the message */
} BadCase;

static void
test_bad_files (void)
{
  static const BadCase cases[] = {
    { "{\"a\": 0", NULL, NULL, NULL, "vocab.json", "not valid JSON" },
    { "[\"a\", \"b\"]", NULL, NULL, NULL, "vocab.json", "JSON object" },
    { "{}", NULL, NULL, NULL, "vocab.json", "empty" },
    { "{\"a\": \"0\"}", NULL, NULL, NULL, "vocab.json", "not an integer" },
    { "{\"a\": -1}", NULL, NULL, NULL, "vocab.json", "not an integer" },
    { "{\"a\": 1.5}", NULL, NULL, NULL, "vocab.json", "not an integer" },
    { "{\"a\": 99999999999}", NULL, NULL, NULL, "vocab.json", "not an integer" },
    { "{\"a\": 0, \"b\": 0}", NULL, NULL, NULL, "vocab.json", "given to both" },
    { "{\"a\": 0, \"a\": 1e999}", NULL, NULL, NULL, "vocab.json", "not an integer" },
    { NULL, "", NULL, NULL, "merges.txt", "#version" },
    { NULL, "a b\n", NULL, NULL, "merges.txt", "#version" },
    { NULL, "#version: 0.2\n", NULL, NULL, "merges.txt", "no merges" },
    { NULL, "#version: 0.2\na b\nc\n", NULL, NULL, "merges.txt line 3", "two symbols" },
    { NULL, "#version: 0.2\na b c\n", NULL, NULL, "merges.txt line 2", "two symbols" },
    { NULL, "#version: 0.2\na b\n\nc d</w>\n", NULL, NULL, "merges.txt line 3", "two symbols" },
    { NULL, "#version: 0.2\na z\n", NULL, NULL, "merges.txt line 2", "\"z\" is not in" },
    { NULL, "#version: 0.2\na c\n", NULL, NULL, "merges.txt line 2", "\"ac\" is not in" },
    { NULL, "#version: 0.2\na b\nc d</w>\na b\n", NULL, NULL, "merges.txt", "line 4 repeats" },
    { NULL, "#version: 0.2\na \xc3\x28\n", NULL, NULL, "merges.txt", "UTF-8" },
    { NULL, NULL, "not json", NULL, "tokenizer_config.json", "not valid JSON" },
    { NULL, NULL, "{\"pad_token\": 3}", NULL, "tokenizer_config.json", "pad_token" },
    { NULL, NULL, "{\"bos_token\": {\"lstrip\": true}}", NULL, "tokenizer_config.json",
      "bos_token" },
    { NULL, NULL, "{\"model_max_length\": 2}", NULL, "tokenizer_config.json",
      "model_max_length" },
    { NULL, NULL, "{\"model_max_length\": 1e30}", NULL, "tokenizer_config.json",
      "model_max_length" },
    { NULL, NULL, NULL, "{\"pad_token\": \"<pad>\"}", "vocab.json", "\"<pad>\" is not in" },
    { NULL, NULL, NULL, "{\"unk_token\": \"\"}", "special_tokens_map.json", "unk_token" },
  };
  char *root = tmp_dir_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const BadCase *c = &cases[i];
      char *name = g_strdup_printf ("case%" G_GSIZE_FORMAT, i);
      char *dir = g_build_filename (root, name, NULL);
      GError *error = NULL;
      GenTokenizer *tok;

      write_folder (dir, c->vocab ? c->vocab : tiny_vocab, c->merges ? c->merges : tiny_merges,
                    c->config, c->special);
      tok = gen_tokenizer_open (dir, NULL, &error);
      if (tok || !error || !strstr (error->message, c->file) || !strstr (error->message, c->what))
        g_error ("case %" G_GSIZE_FORMAT ": expected an error naming %s and '%s', got: %s", i,
                 c->file, c->what, error ? error->message : "success");
      g_assert_true (error->domain == GEN_ERROR);
      g_clear_error (&error);
      g_free (dir);
      g_free (name);
    }
  remove_tree (root);
}

/* A missing merges.txt, and files over the size cap: refused before reading. */
static void
test_missing_and_huge (void)
{
  char *root = tmp_dir_new ();
  const char *names[2] = { "vocab.json", "merges.txt" };
  GError *error = NULL;

  write_folder (root, tiny_vocab, NULL, NULL, NULL);
  g_assert_null (gen_tokenizer_open (root, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "merges.txt: missing"));
  g_clear_error (&error);

  for (int i = 0; i < 2; i++)
    {
      char *path;
      FILE *f;

      write_folder (root, tiny_vocab, tiny_merges, NULL, NULL);
      path = g_build_filename (root, names[i], NULL);
      f = g_fopen (path, "r+b");
      g_assert_nonnull (f);
      /* sparse: takes no disk space, and would take long to read */
      g_assert_cmpint (ftruncate (fileno (f), (off_t) 4 * 1024 * 1024 * 1024), ==, 0);
      fclose (f);
      g_assert_null (gen_tokenizer_open (root, NULL, &error));
      g_assert_error (error, GEN_ERROR, GEN_ERROR_FORMAT);
      g_assert_nonnull (strstr (error->message, names[i]));
      g_assert_nonnull (strstr (error->message, "too big"));
      g_clear_error (&error);
      g_remove (path);
      g_free (path);
    }
  tmp_dir_remove (root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tokenizer/sd2-padding", test_sd2_padding);
  g_test_add_func ("/tokenizer/truncation", test_truncation);
  g_test_add_func ("/tokenizer/open", test_open);
  g_test_add_func ("/tokenizer/bad-files", test_bad_files);
  g_test_add_func ("/tokenizer/missing-and-huge", test_missing_and_huge);
  return g_test_run ();
}

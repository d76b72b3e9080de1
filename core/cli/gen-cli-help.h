/* gen-cli-help.h — what the CLI prints for people: text in the locale's
 * charset (UTF-8, or plain ASCII with "..." for "…", "->" for "→", "x" for
 * "×" elsewhere), and each command's help built from its option entries. */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* UTF8 as the terminal can show it: a copy, or its ASCII transliteration
 * when the locale's charset is not UTF-8.  Free with g_free. */
char *gen_cli_text (const char *utf8);
/* Prints (a printf format in UTF-8) to F through gen_cli_text. */
void  gen_cli_print (FILE *f, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* One titled list of options: entries up to the NULL one; those flagged
 * G_OPTION_FLAG_HIDDEN are left out. */
typedef struct
{
  const char         *title;
  const GOptionEntry *entries;
} GenCliHelpSection;

/* A command's help on stdout: "Usage: generative COMMAND ARGS", the
 * description, the sections and one example. */
void gen_cli_help (const char *command, const char *args, const char *description,
                   const GenCliHelpSection *sections, int n_sections, const char *example);

G_END_DECLS

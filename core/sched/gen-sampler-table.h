/* gen-sampler-table.h — the samplers and the sigma schedules, one table row
 * each (gen-sampler-table.c): the name the CLI takes, the label a dialog
 * shows, the settings the sampler reads, its stable number.  Every list a
 * user sees — the CLI's names and help, the GIMP choice lists, which
 * widgets a dialog greys out — is read from these rows.
 *
 * Stable numbers.  Every row has a number that never changes: the GIMP
 * 2.10 procedures take it as their INT32 "scheduler" / "sigmas" argument
 * (scripts and saved last values hold it), and the GIMP dialogs list the
 * rows in number order.  Numbers run 0 .. count−1 without a gap; a new row
 * takes the next free one.  They are the ABI of the 2.10 procedures: never
 * renumber a row.  The table's own order (GenSamplerKind, GenSigmaSchedule)
 * is the order the CLI lists names in.
 *
 * Labels are English, marked with N_() where they are defined (po/ reads
 * gen-sampler-table.c); a front end shows _(info->label). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The index of the sampler's row. */
typedef enum
{
  GEN_SAMPLER_DDPM,
  GEN_SAMPLER_DDIM,
  GEN_SAMPLER_EULER,
  GEN_SAMPLER_EULER_A,
  GEN_SAMPLER_HEUN,
  GEN_SAMPLER_DPMPP_2M,
  GEN_SAMPLER_PNDM,
  GEN_SAMPLER_LCM
} GenSamplerKind;

/* The index of the sigma schedule's row. */
typedef enum
{
  GEN_SIGMAS_DEFAULT,
  GEN_SIGMAS_KARRAS,
  GEN_SIGMAS_EXPONENTIAL
} GenSigmaSchedule;

typedef struct
{
  GenSamplerKind     kind;
  const char        *name;         /* "euler_a": --scheduler, settings text, GIMP 3 choice nick */
  const char *const *aliases;      /* more names it is known by: NULL, or NULL-ended */
  const char        *label;        /* "Euler ancestral", N_() */
  int                number;       /* stable (see above) */
  gboolean           uses_sigmas;  /* steps on a sigma list: the sigma schedule applies */
  gboolean           uses_eta;     /* reads eta */
  int                order;        /* model evaluations per step (heun 2) */
} GenSamplerInfo;

typedef struct
{
  GenSigmaSchedule schedule;
  const char      *name;           /* "karras": --sigmas, settings text, GIMP 3 choice nick */
  const char      *label;          /* "Karras", N_() */
  int              number;         /* stable (see above) */
} GenSigmaScheduleInfo;

/* The rows: I = 0 .. count−1 is the kind; NULL outside. */
int                   gen_sampler_info_count (void);
const GenSamplerInfo *gen_sampler_info (int i);
/* The row of stable number NUMBER; NULL if none has it. */
const GenSamplerInfo *gen_sampler_info_from_number (int number);

/* A row's name or one of its aliases ("dpm++2m" is dpmpp_2m).  An unknown
 * name is GEN_ERROR_INVALID listing the valid ones. */
gboolean    gen_sampler_kind_from_name (const char *name, GenSamplerKind *out, GError **error);
const char *gen_sampler_kind_name (GenSamplerKind kind);
/* The names in table order, ", "-separated, LAST_SEP (", ", " or ") before
 * the last one.  Caller frees. */
char       *gen_sampler_names (const char *last_sep);

int                         gen_sigma_schedule_info_count (void);
const GenSigmaScheduleInfo *gen_sigma_schedule_info (int i);
const GenSigmaScheduleInfo *gen_sigma_schedule_info_from_number (int number);
gboolean    gen_sigma_schedule_from_name (const char *name, GenSigmaSchedule *out, GError **error);
const char *gen_sigma_schedule_name (GenSigmaSchedule schedule);
char       *gen_sigma_schedule_names (const char *last_sep);

G_END_DECLS

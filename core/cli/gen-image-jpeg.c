/* gen-image-jpeg.c — JPEG files to and from GenImage, through libjpeg.
 *
 * libjpeg reports errors by longjmp: each library call sequence lives in
 * its own small function holding the setjmp, with everything it allocates
 * kept in a context struct owned by the caller, which cleans up on either
 * outcome.  libjpeg's default handlers print and exit: ours are installed
 * instead, and turn the warnings that mean damaged pixels into errors.
 */
#include "gen-image-codec.h"

#include "gen-error.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#define JPEG_MAX_SCANS 500   /* a progressive JPEG needs ~10; thousands are a CPU bomb */

typedef struct
{
  struct jpeg_error_mgr pub; /* first: libjpeg hands us cinfo->err */
  jmp_buf               jmp;
  int                   code; /* the message that stopped it; -1: scan limit */
  char                  msg[JMSG_LENGTH_MAX];
} JpegErr;

G_GNUC_NORETURN static void
jpeg_on_error (j_common_ptr cinfo)
{
  JpegErr *err = (JpegErr *) cinfo->err;

  err->code = err->pub.msg_code;
  err->pub.format_message (cinfo, err->msg);
  longjmp (err->jmp, 1);
}

/* Warnings that mean the pixels are damaged stop the decoder; the others
 * (extraneous bytes between markers, unknown JFIF revision, bad ICC
 * marker…) are ignored.  Trace messages are never printed. */
static void
jpeg_on_message (j_common_ptr cinfo, int level)
{
  if (level >= 0)
    return;
  switch (cinfo->err->msg_code)
    {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_BOGUS_PROGRESSION:
      jpeg_on_error (cinfo);
    default:
      cinfo->err->num_warnings++;
    }
}

static void
jpeg_on_output (j_common_ptr cinfo)
{
  (void) cinfo;
}

static void
jpeg_on_progress (j_common_ptr cinfo)
{
  JpegErr *err = (JpegErr *) cinfo->err;

  if (cinfo->is_decompressor && ((j_decompress_ptr) cinfo)->input_scan_number > JPEG_MAX_SCANS)
    {
      err->code = -1;
      g_snprintf (err->msg, sizeof err->msg, "more than %d scans", JPEG_MAX_SCANS);
      longjmp (err->jmp, 1);
    }
}

static void
jpeg_err_init (JpegErr *err)
{
  jpeg_std_error (&err->pub);
  err->pub.error_exit = jpeg_on_error;
  err->pub.emit_message = jpeg_on_message;
  err->pub.output_message = jpeg_on_output;
  err->code = 0;
  err->msg[0] = '\0';
}

typedef struct
{
  JpegErr                       err;
  struct jpeg_progress_mgr      progress;
  struct jpeg_decompress_struct cinfo;
  GenImage                     *img;
  JSAMPLE                      *row;
} JpegIn;

static gboolean
jpeg_decode (JpegIn *in, const guint8 *data, gsize len, const char *name, gsize max_pixels,
             GError **error)
{
  j_decompress_ptr cinfo = &in->cinfo;
  int channels;
  gsize stride;

  if (setjmp (in->err.jmp))
    {
      if (in->err.code == JWRN_JPEG_EOF || in->err.code == JERR_INPUT_EOF
          || in->err.code == JERR_INPUT_EMPTY)
        g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: truncated JPEG data", name);
      else if (in->err.code == JERR_OUT_OF_MEMORY)
        g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory (%s)", name,
                     in->err.msg);
      else
        g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad JPEG data (%s)", name,
                     in->err.msg);
      return FALSE;
    }

  jpeg_create_decompress (cinfo);
  in->progress.progress_monitor = jpeg_on_progress;
  cinfo->progress = &in->progress;
  jpeg_mem_src (cinfo, data, (unsigned long) len);
  (void) jpeg_read_header (cinfo, TRUE);
  if (!gen_image_check_size (cinfo->image_width, cinfo->image_height, max_pixels, name, error))
    return FALSE;

  switch (cinfo->jpeg_color_space)
    {
    case JCS_GRAYSCALE:
      cinfo->out_color_space = JCS_GRAYSCALE;
      channels = 1;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      cinfo->out_color_space = JCS_RGB;
      channels = 3;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: CMYK JPEG is not supported (gray or RGB only)", name);
      return FALSE;
    default:
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: JPEG with %d components of unknown colour space is not supported", name,
                   cinfo->num_components);
      return FALSE;
    }
  cinfo->dct_method = JDCT_ISLOW;
  (void) jpeg_start_decompress (cinfo);
  if (cinfo->output_components != channels || cinfo->output_width != cinfo->image_width
      || cinfo->output_height != cinfo->image_height)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: unexpected JPEG output layout",
                   name);
      return FALSE;
    }

  in->img = gen_image_new_for (name, cinfo->output_width, cinfo->output_height, channels, 8, error);
  if (in->img == NULL)
    return FALSE;
  stride = (gsize) cinfo->output_width * (gsize) channels;
  in->row = g_try_malloc (stride);
  if (in->row == NULL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", name);
      return FALSE;
    }
  while (cinfo->output_scanline < cinfo->output_height)
    {
      gsize y = cinfo->output_scanline;
      JSAMPROW row = in->row;

      if (jpeg_read_scanlines (cinfo, &row, 1) != 1)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: truncated JPEG data", name);
          return FALSE;
        }
      gen_image_samples_to_float (in->img->data + y * stride, in->row, stride, 8);
    }
  (void) jpeg_finish_decompress (cinfo);
  return TRUE;
}

GenImage *
gen_image_jpeg_load (const guint8 *data, gsize len, const char *name, gsize max_pixels,
                     GError **error)
{
  JpegIn in;
  GenImage *img = NULL;

  memset (&in, 0, sizeof in);
  jpeg_err_init (&in.err);
  in.cinfo.err = &in.err.pub;
  if (jpeg_decode (&in, data, len, name, max_pixels, error))
    {
      img = in.img;
      in.img = NULL;
    }
  jpeg_destroy_decompress (&in.cinfo);
  g_free (in.row);
  gen_image_free (in.img);
  return img;
}

typedef struct
{
  struct jpeg_destination_mgr pub; /* first: libjpeg hands us cinfo->dest */
  GenImageBuf                 out;
  JOCTET                      buf[16384];
} JpegDest;

static void
jpeg_dest_init (j_compress_ptr cinfo)
{
  JpegDest *d = (JpegDest *) cinfo->dest;

  d->pub.next_output_byte = d->buf;
  d->pub.free_in_buffer = sizeof d->buf;
}

static boolean
jpeg_dest_empty (j_compress_ptr cinfo)
{
  JpegDest *d = (JpegDest *) cinfo->dest;

  if (!gen_image_buf_append (&d->out, d->buf, sizeof d->buf))
    ERREXIT1 (cinfo, JERR_OUT_OF_MEMORY, 0);
  d->pub.next_output_byte = d->buf;
  d->pub.free_in_buffer = sizeof d->buf;
  return TRUE;
}

static void
jpeg_dest_term (j_compress_ptr cinfo)
{
  JpegDest *d = (JpegDest *) cinfo->dest;

  if (!gen_image_buf_append (&d->out, d->buf, sizeof d->buf - d->pub.free_in_buffer))
    ERREXIT1 (cinfo, JERR_OUT_OF_MEMORY, 0);
}

typedef struct
{
  JpegErr                     err;
  JpegDest                    dest;
  struct jpeg_compress_struct cinfo;
  JSAMPLE                    *row;
} JpegOut;

static gboolean
jpeg_encode (JpegOut *o, const GenImage *img)
{
  j_compress_ptr cinfo = &o->cinfo;
  int color = img->channels >= 3 ? 3 : 1;
  int c;

  if (setjmp (o->err.jmp))
    return FALSE;
  jpeg_create_compress (cinfo);
  o->dest.pub.init_destination = jpeg_dest_init;
  o->dest.pub.empty_output_buffer = jpeg_dest_empty;
  o->dest.pub.term_destination = jpeg_dest_term;
  cinfo->dest = &o->dest.pub;
  cinfo->image_width = (JDIMENSION) img->width;
  cinfo->image_height = (JDIMENSION) img->height;
  cinfo->input_components = color;
  cinfo->in_color_space = color == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults (cinfo);
  jpeg_set_quality (cinfo, 95, TRUE);
  for (c = 0; c < cinfo->num_components; c++)
    {
      cinfo->comp_info[c].h_samp_factor = 1; /* 4:4:4 */
      cinfo->comp_info[c].v_samp_factor = 1;
    }
  cinfo->optimize_coding = TRUE;
  cinfo->dct_method = JDCT_ISLOW;
  jpeg_start_compress (cinfo, TRUE);
  while (cinfo->next_scanline < cinfo->image_height)
    {
      JSAMPROW row = o->row;

      gen_image_row_to_samples (img, (int) cinfo->next_scanline, color, 8, TRUE, o->row);
      (void) jpeg_write_scanlines (cinfo, &row, 1);
    }
  jpeg_finish_compress (cinfo);
  return TRUE;
}

/* JPEG holds no alpha and 8 bits: DEPTH is 8, and an alpha channel is dropped. */
gboolean
gen_image_jpeg_encode (const GenImage *img, G_GNUC_UNUSED int depth, GenImageBuf *out,
                       const char *name, GError **error)
{
  JpegOut *o = g_try_new0 (JpegOut, 1);
  gboolean ok;

  if (o != NULL)
    o->row = g_try_malloc ((gsize) img->width * 3);
  if (o == NULL || o->row == NULL)
    {
      g_free (o);
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", name);
      return FALSE;
    }
  jpeg_err_init (&o->err);
  o->cinfo.err = &o->err.pub;
  ok = jpeg_encode (o, img);
  jpeg_destroy_compress (&o->cinfo);
  g_free (o->row);
  if (ok)
    *out = o->dest.out;
  else
    {
      g_set_error (error, GEN_ERROR,
                   o->err.code == JERR_OUT_OF_MEMORY ? GEN_ERROR_NO_MEMORY : GEN_ERROR_IO,
                   "%s: cannot encode JPEG (%s)", name, o->err.msg);
      g_free (o->dest.out.data);
    }
  g_free (o);
  return ok;
}
